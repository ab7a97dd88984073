"""Who may publish and read what on a site's NATS server: one account per appliance.

Each appliance may publish facts, call records, events and call-back entries only on its
own subjects, and receive replies and deliveries only on its own inbox, change the
site's rules and screening settings, and read through its own four durable consumers (the
site's rules, the site's facts, the site's settings, the province's rules); it cannot
create, delete or purge a stream, speak for another box, change another site's rules or
settings, or write the province's. A separate administrator account (the hub, or the
technician setting up the site) creates the streams.
`server_authorization()` writes the `authorization` block of `nats-server.conf` that says
so; docs/cluster.md shows it and tests/cluster runs a server with it.

On the province hub's server the same block also holds one user per site whose server
links to it as a leaf node (`leaf-<domain>`), usable on the leaf-node port only, its
password hashed with bcrypt. nats-server applies that user's permissions to the link: the
site may answer the hub's requests for its own domain's calls, facts and events, and read
the province's rules into its mirror; nothing else crosses, either way
(`leaf_permissions()`). The site's server names the user and its password in the url of
its remote, from the file `write_site_accounts()` makes for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from appliance.cluster.messages import (
    CALLBACKS_STREAM,
    CALLS_STREAM,
    EVENTS_STREAM,
    FACTS_STREAM,
    NAME,
    PROVINCE_RULES_BUCKET,
    RULES_BUCKET,
    SETTINGS_BUCKET,
    call_subject,
    callback_subject,
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
        callback_subject(site, appliance),
        f"$KV.{RULES_BUCKET}.{site}.>",
        f"$KV.{SETTINGS_BUCKET}.{site}.>",
    ]
    for bucket in (RULES_STREAM, SETTINGS_STREAM):  # a key's latest value, on a conflict
        allowed += [f"{api}.STREAM.MSG.GET.{bucket}", f"{api}.DIRECT.GET.{bucket}.>"]
    streams = (
        FACTS_STREAM,
        CALLS_STREAM,
        EVENTS_STREAM,
        CALLBACKS_STREAM,
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


def inbox_prefix(site: str, user: str) -> str:
    """The subjects a client of `user` at `site` gets its replies and deliveries on
    (`<prefix>.<unique>`). Each box may read only its own: with every box on `_INBOX.>`,
    one box could read the replies the server sends another, and what the hub fetches
    (another box's calls, facts and settings, as they are delivered)."""
    return f"_INBOX.{site}.{user}"


SITE_STREAMS = (CALLS_STREAM, FACTS_STREAM, EVENTS_STREAM, CALLBACKS_STREAM)  # the hub gathers


def leaf_user(domain: str) -> str:
    """The hub's user for the leaf-node link of the site whose JetStream domain this is."""
    return f"leaf-{domain}"


def source_deliver_prefix(domain: str) -> str:
    """Where the hub's sources of the site in JetStream `domain` take its streams'
    messages: a prefix of that site's own, so its link may send those and no other
    site's (`leaf_permissions`)."""
    return f"siaga.deliver.{domain}"


def leaf_permissions(domain: str) -> dict[str, dict[str, list[str]]]:
    """What the link of the site in JetStream `domain` may carry, as nats-server reads a
    leaf-node user's permissions: `publish`, what the site may send into the hub's
    account; `subscribe`, what the hub's account may send to the site.

    Into the hub: the site's mirror asking for a consumer of the province's rules (in
    whatever domain the hub has: the only other domains the hub's account reaches are the
    sites', whose links take nothing but the hub's requests for their streams), the replies to
    the hub's requests (`$JSC.R.*`), what the site's streams deliver to the hub's sources
    (on the site's own prefix, `source_deliver_prefix`: never into another site's sources)
    and the flow control of the mirror. To the site: the hub's requests for
    consumers of the site's own calls, facts and events (no other domain's, no other
    stream's), what the province's bucket delivers to the mirror (`$JS.M.*`), the replies
    to the mirror's requests and the flow control of the hub's sources. nats-server 2.9
    asks for a consumer on `CONSUMER.CREATE.<stream>`, and on
    `CONSUMER.CREATE.<stream>.<name>.<filter>` when it filters: both are allowed."""
    mirror = f"$JS.*.API.CONSUMER.CREATE.{PROVINCE_RULES_STREAM}"
    sources = [f"$JS.{domain}.API.CONSUMER.CREATE.{stream}" for stream in SITE_STREAMS]
    return {
        "publish": {
            "allow": [
                mirror,
                f"{mirror}.>",
                "$JSC.R.*",
                f"{source_deliver_prefix(domain)}.>",
                f"$JS.FC.{PROVINCE_RULES_STREAM}.>",
            ]
        },
        "subscribe": {
            "allow": [
                *(subject for source in sources for subject in (source, f"{source}.>")),
                "$JS.M.*",
                "$JSC.R.*",
                *(f"$JS.FC.{stream}.>" for stream in SITE_STREAMS),
            ]
        },
    }


# On the hub: the user a leaf node that offers no credential is taken for. nats-server
# before 2.12 (Debian's is 2.9) lets such a leaf into the server's global account with
# every right, whatever the users; named `no_auth_user`, it is refused instead: this user
# may connect as a leaf node only, its password is the hash of a secret no one keeps (the
# server compares the hash itself against the hash, which never matches), and it may
# neither send nor receive anything.
NO_CREDENTIAL_USER = "no credentials"


def server_authorization(
    site: str,
    appliances: dict[str, str],
    *,
    admin: tuple[str, str],
    leaf_sites: dict[str, str] | None = None,
) -> str:
    """The `authorization` block for a site: `appliances` maps each box's name to its
    password (or its bcrypt hash, which nats-server checks a password against); `admin`
    is (user, password or hash) of the account that creates the streams. The
    boxes and the admin connect as clients only.

    `leaf_sites`, on the province hub's server, maps the JetStream domain of each site
    whose server links to it as a leaf node to the bcrypt hash of its link's password:
    each link is a user that connects as a leaf node only, with `leaf_permissions()`, and
    a leaf node that offers no credential is refused (`NO_CREDENTIAL_USER`)."""
    client_only = {"allowed_connection_types": ["STANDARD"]}
    users: list[dict[str, Any]] = [
        {"user": admin[0], "password": admin[1], **client_only},
        *(
            {
                "user": name,
                "password": password,
                **client_only,
                "permissions": {
                    "publish": {"allow": appliance_publish(site, name)},
                    "subscribe": {"allow": [f"{inbox_prefix(site, name)}.>"]},
                },
            }
            for name, password in sorted(appliances.items())
        ),
    ]
    leaf_only = {"allowed_connection_types": ["LEAFNODE"]}
    for domain, hashed in sorted((leaf_sites or {}).items()):
        users.append(
            {"user": leaf_user(domain), "password": hashed, **leaf_only,
             "permissions": leaf_permissions(domain)}
        )  # fmt: skip
    if leaf_sites:
        nothing = {"deny": [">"]}
        users.append(
            {"user": NO_CREDENTIAL_USER, "password": bcrypt_hash(secrets.token_urlsafe(24)),
             **leaf_only, "permissions": {"publish": nothing, "subscribe": nothing}}
        )  # fmt: skip
    # nats-server reads JSON inside its configuration format.
    block = "authorization {\n  users = " + json.dumps(users, indent=2) + "\n}\n"
    if leaf_sites:
        block += f"no_auth_user: {json.dumps(NO_CREDENTIAL_USER)}\n"
    return block


ADMIN_USER = "siaga-admin"
ACCOUNTS_FILE = "nats-accounts.conf"
LEAF_URL_SCHEMES = ("nats-leaf", "nats", "tls")


def write_site_accounts(
    folder: Path,
    site: str,
    appliances: Sequence[str],
    *,
    leaf_sites: Sequence[str] = (),
    hub_url: str | None = None,
) -> list[Path]:
    """Make the accounts of a site in `folder`: `nats-accounts.conf` (include it from the
    server's configuration; it holds each password's bcrypt hash, never the password) and
    a password file per appliance and for the admin, each readable by its owner only.
    Existing passwords are kept, so running it again to add a box changes no other box's
    password.

    On the province hub's server, `leaf_sites` names the JetStream domain of each site
    whose server links to it as a leaf node, and `hub_url` the address those servers dial
    (`nats-leaf://hub.example:7422`): each gets a user of its own in the block, with its
    password's bcrypt hash, a password file `leaf-<domain>.password` and
    `leaf-<domain>.conf`, the `url` of the site's remote with the credential in it (include
    it from the remote's entry on the site's server). Returns the files written."""
    leaves = [leaf_user(domain) for domain in leaf_sites]
    names = [site, *appliances, *leaf_sites]
    bad = [name for name in names if not re.fullmatch(NAME, name)]
    if bad:
        raise ValueError(
            f"{bad[0]!r}: names are a lowercase letter or digit, then up to 31 of a-z 0-9 _ -"
        )
    users = [*appliances, *leaves, ADMIN_USER]
    if len(set(users)) != len(users):
        raise ValueError("appliance and site names must be unique, and not the admin's")
    if not appliances and not leaf_sites:
        raise ValueError("name an appliance, or a site that links as a leaf node")
    if hub_url and not leaf_sites:
        raise ValueError("the hub's address is for the sites that link to it (--leaf-site)")
    scheme, address = _leaf_address(hub_url) if leaf_sites else ("", "")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    passwords = {name: _password(folder / f"{name}.password") for name in appliances}
    admin = _password(folder / f"{ADMIN_USER}.password")
    links = {domain: _password(folder / f"{leaf_user(domain)}.password") for domain in leaf_sites}
    config = folder / ACCOUNTS_FILE
    header = (
        f"# The accounts of site {site}: made by `siaga nats-accounts`; include this file\n"
        "# from nats-server.conf. Each appliance publishes only on its own subjects.\n"
    )
    if leaf_sites:
        header += "# Each site's leaf-node link carries its own streams and the province's rules.\n"
    # The server's file holds only bcrypt hashes: a copy of it (a backup, a support
    # bundle) gives nobody a box's, the admin's or a link's password.
    boxes = {name: bcrypt_hash(password) for name, password in passwords.items()}
    hashes = {domain: bcrypt_hash(password) for domain, password in links.items()}
    config.write_text(
        header
        + server_authorization(
            site, boxes, admin=(ADMIN_USER, bcrypt_hash(admin)), leaf_sites=hashes
        ),
        encoding="utf-8",
    )
    config.chmod(0o600)
    written = [config, *(folder / f"{name}.password" for name in [*appliances, ADMIN_USER])]
    for domain, password in links.items():
        remote = folder / f"{leaf_user(domain)}.conf"
        remote.write_text(
            f"# The link of site {domain} to the province hub: made by `siaga nats-accounts`;\n"
            "# include it from the remote's entry in the site's nats-server.conf.\n"
            f'url: "{scheme}://{leaf_user(domain)}:{password}@{address}"\n',
            encoding="utf-8",
        )
        remote.chmod(0o600)
        written += [folder / f"{leaf_user(domain)}.password", remote]
    return written


def _leaf_address(hub_url: str | None) -> tuple[str, str]:
    """(scheme, host:port) of the hub's leaf-node port, from `nats-leaf://host:port`."""
    if not hub_url:
        raise ValueError("sites that link as leaf nodes need the hub's address (--hub-url)")
    parts = urlsplit(hub_url)
    if parts.scheme not in LEAF_URL_SCHEMES or not parts.hostname or parts.port is None:
        raise ValueError(f"{hub_url!r}: the hub's leaf-node address is nats-leaf://HOST:PORT")
    if parts.username or parts.password or parts.path not in ("", "/"):
        raise ValueError(f"{hub_url!r}: the hub's address alone, nats-leaf://HOST:PORT")
    return parts.scheme, parts.netloc


BCRYPT_COST = 11  # 2^11 rounds: what nats-server's own tooling uses
_CRYPT_DATA_SIZE = 32768  # sizeof(struct crypt_data) in libxcrypt
_GENSALT_OUTPUT_SIZE = 192  # CRYPT_GENSALT_OUTPUT_SIZE


def bcrypt_hash(password: str, cost: int = BCRYPT_COST) -> str:
    """`password` hashed with bcrypt (`$2b$`), which nats-server checks a password against
    when the configuration holds a hash: by the system's libcrypt (libxcrypt, which hashes
    the login passwords too), with 16 random bytes of salt."""
    name = ctypes.util.find_library("crypt")
    if name is None:
        raise RuntimeError("no libcrypt on this system: cannot hash the links' passwords")
    lib = ctypes.CDLL(name)
    salt = ctypes.create_string_buffer(_GENSALT_OUTPUT_SIZE)
    lib.crypt_gensalt_rn.restype = ctypes.c_char_p
    lib.crypt_gensalt_rn.argtypes = [
        ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int,
        ctypes.c_char_p, ctypes.c_int,
    ]  # fmt: skip
    random = secrets.token_bytes(16)
    if not lib.crypt_gensalt_rn(b"$2b$", cost, random, len(random), salt, len(salt)):
        raise RuntimeError("this system's libcrypt cannot make a bcrypt salt")
    data = ctypes.create_string_buffer(_CRYPT_DATA_SIZE)
    lib.crypt_rn.restype = ctypes.c_char_p
    lib.crypt_rn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    hashed = lib.crypt_rn(password.encode(), salt.value, data, len(data))
    if not hashed or not hashed.startswith(b"$2b$"):
        raise RuntimeError("this system's libcrypt cannot hash with bcrypt")
    return str(hashed.decode("ascii"))


def _password(path: Path) -> str:
    """The password kept in `path`, or a new random one written there (mode 0600)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(24)
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return password
