"""Who may publish and read what on a site's NATS server: one account per appliance.

Each appliance may publish facts and call records only on its own subjects, change the
site's rules, and read through its own two durable consumers; it cannot create, delete or
purge a stream, speak for another box, or read another site's rules. A separate
administrator account (the hub, or the technician setting up the site) creates the streams.
`server_authorization()` writes the `authorization` block of `nats-server.conf` that says
so; docs/cluster.md shows it and tests/cluster runs a server with it.
"""

from __future__ import annotations

import json

from appliance.cluster.messages import (
    CALLS_STREAM,
    FACTS_STREAM,
    RULES_BUCKET,
    call_subject,
    fact_subject,
)

RULES_STREAM = f"KV_{RULES_BUCKET}"


def consumer_names(site: str, appliance: str) -> tuple[str, str]:
    """The durable consumers of an appliance: (rules, facts)."""
    return f"rules-{site}-{appliance}", f"facts-{site}-{appliance}"


def appliance_publish(site: str, appliance: str) -> list[str]:
    """The subjects an appliance's account may publish to (JetStream API calls included)."""
    rules, facts = consumer_names(site, appliance)
    api = "$JS.API"
    allowed = [
        fact_subject(site, appliance),
        call_subject(site, appliance),
        f"$KV.{RULES_BUCKET}.{site}.>",
        f"{api}.STREAM.MSG.GET.{RULES_STREAM}",
        f"{api}.DIRECT.GET.{RULES_STREAM}.>",
    ]
    allowed += [f"{api}.STREAM.INFO.{name}" for name in (FACTS_STREAM, CALLS_STREAM, RULES_STREAM)]
    for stream, consumer in ((RULES_STREAM, rules), (FACTS_STREAM, facts)):
        allowed += [
            f"{api}.CONSUMER.INFO.{stream}.{consumer}",
            f"{api}.CONSUMER.DURABLE.CREATE.{stream}.{consumer}",
            f"{api}.CONSUMER.CREATE.{stream}.{consumer}",
            f"{api}.CONSUMER.CREATE.{stream}.{consumer}.>",
            f"{api}.CONSUMER.MSG.NEXT.{stream}.{consumer}",
            f"$JS.ACK.{stream}.{consumer}.>",
        ]
    return allowed


def server_authorization(site: str, appliances: dict[str, str], *, admin: tuple[str, str]) -> str:
    """The `authorization` block for a site: `appliances` maps each box's name to its
    password; `admin` is (user, password) of the account that creates the streams."""
    users = [
        {"user": admin[0], "password": admin[1]},
        *(
            {
                "user": name,
                "password": password,
                "permissions": {
                    "publish": {"allow": appliance_publish(site, name)},
                    "subscribe": {"allow": ["_INBOX.>"]},
                },
            }
            for name, password in sorted(appliances.items())
        ),
    ]
    # nats-server reads JSON inside its configuration format.
    return "authorization {\n  users = " + json.dumps(users, indent=2) + "\n}\n"
