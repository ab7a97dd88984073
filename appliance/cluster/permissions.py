"""Who may publish and read what on a site's NATS server: one account per appliance.

Each appliance may publish facts and call records only on its own subjects, change the
site's rules and screening settings, and read through its own four durable consumers (the
site's rules, the site's facts, the site's settings, the province's rules); it cannot
create, delete or purge a stream, speak for another box, change another site's rules or
settings, or write the province's. A separate administrator account (the hub, or the
technician setting up the site) creates the streams.
`server_authorization()` writes the `authorization` block of `nats-server.conf` that says
so; docs/cluster.md shows it and tests/cluster runs a server with it.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

from appliance.cluster.messages import (
    CALLS_STREAM,
    EVENTS_STREAM,
    FACTS_STREAM,
    NAME,
    PROVINCE_RULES_BUCKET,
    RULES_BUCKET,
    SETTINGS_BUCKET,
    call_subject,
    event_subject,
    fact_subject,
)

RULES_STREAM = f"KV_{RULES_BUCKET}"
PROVINCE_RULES_STREAM = f"KV_{PROVINCE_RULES_BUCKET}"
SETTINGS_STREAM = f"KV_{SETTINGS_BUCKET}"


def consumer_names(site: str, appliance: str) -> tuple[str, str]:
    """The durable consumers of an appliance: (rules, facts)."""
    return f"rules-{site}-{appliance}", f"facts-{site}-{appliance}"


def province_consumer_name(site: str, appliance: str) -> str:
    """The appliance's durable consumer of the province's rules."""
    return f"province-{site}-{appliance}"


def settings_consumer_name(site: str, appliance: str) -> str:
    """The appliance's durable consumer of the site's screening settings."""
    return f"settings-{site}-{appliance}"


def appliance_publish(site: str, appliance: str) -> list[str]:
    """The subjects an appliance's account may publish to (JetStream API calls included)."""
    rules, facts = consumer_names(site, appliance)
    api = "$JS.API"
    allowed = [
        fact_subject(site, appliance),
        call_subject(site, appliance),
        event_subject(site, appliance),
        f"$KV.{RULES_BUCKET}.{site}.>",
        f"$KV.{SETTINGS_BUCKET}.{site}.>",
    ]
    for bucket in (RULES_STREAM, SETTINGS_STREAM):  # a key's latest value, on a conflict
        allowed += [f"{api}.STREAM.MSG.GET.{bucket}", f"{api}.DIRECT.GET.{bucket}.>"]
    streams = (
        FACTS_STREAM,
        CALLS_STREAM,
        EVENTS_STREAM,
        RULES_STREAM,
        SETTINGS_STREAM,
        PROVINCE_RULES_STREAM,
    )
    allowed += [f"{api}.STREAM.INFO.{name}" for name in streams]
    consumers = (
        (RULES_STREAM, rules),
        (FACTS_STREAM, facts),
        (SETTINGS_STREAM, settings_consumer_name(site, appliance)),
        (PROVINCE_RULES_STREAM, province_consumer_name(site, appliance)),
    )
    for stream, consumer in consumers:
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


ADMIN_USER = "siaga-admin"
ACCOUNTS_FILE = "nats-accounts.conf"


def write_site_accounts(folder: Path, site: str, appliances: list[str]) -> list[Path]:
    """Make the accounts of a site in `folder`: `nats-accounts.conf` (include it from the
    server's configuration) and a password file per appliance and for the admin, each
    readable by its owner only. Existing passwords are kept, so running it again to add
    a box changes no other box's password. Returns the files written."""
    names = [site, *appliances]
    bad = [name for name in names if not re.fullmatch(NAME, name)]
    if bad:
        raise ValueError(
            f"{bad[0]!r}: names are a lowercase letter or digit, then up to 31 of a-z 0-9 _ -"
        )
    if len(set(appliances)) != len(appliances) or ADMIN_USER in appliances:
        raise ValueError("appliance names must be unique, and not the admin's")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    passwords = {name: _password(folder / f"{name}.password") for name in appliances}
    admin = _password(folder / f"{ADMIN_USER}.password")
    config = folder / ACCOUNTS_FILE
    config.write_text(
        f"# The accounts of site {site}: made by `siaga nats-accounts`; include this file\n"
        "# from nats-server.conf. Each appliance publishes only on its own subjects.\n"
        + server_authorization(site, passwords, admin=(ADMIN_USER, admin)),
        encoding="utf-8",
    )
    config.chmod(0o600)
    return [config, *(folder / f"{name}.password" for name in [*appliances, ADMIN_USER])]


def _password(path: Path) -> str:
    """The password kept in `path`, or a new random one written there (mode 0600)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(24)
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return password
