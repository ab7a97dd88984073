"""Siaga's call-screening application: policy, call log, line state machines, CLI, simulation.

This layer has no wires and no HTTP: it talks to modems only through `firmware`.
"""
