"""Siaga's hardware layer: AT channels to GSM modems, modem families and the virtual modem.

Nothing here knows about screening policy, SQLite or HTTP. The appliance layer above uses
these parts through `firmware.at.channel.ATChannel` and `firmware.families`.
"""
