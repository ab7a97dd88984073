"""Several appliances, one site, one province: sharing over NATS JetStream.

The appliance's SQLite stays the source of what it screens with. What it shares leaves
through an outbox written by triggers in the same transaction as the fact (`schema`),
and what it receives is applied idempotently by `siaga sync` (`agent`), a process of its
own, so a dead link or a dead server never touches a line. See docs/cluster.md.
"""
