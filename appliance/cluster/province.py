"""Rules of the whole province: made at the hub, in force on every appliance of every site.

The hub's own `rules` table is the province's list: a province supervisor adds a block on
the hub's web UI, or with `siaga block add --config /etc/siaga/hub.toml`, as on a box.
`siaga hub` publishes every rule of that table (a new rule, a removal) to the key-value
bucket `siaga_province_rules` on the hub's servers, key `<rule id>`; only the hub writes
it, so no two versions ever meet. The hub compares its table with the bucket at each
start and after each change of the table, so a rule made while `siaga hub` was stopped
goes out when it starts.

Each appliance's `siaga sync` reads the bucket's stream through a durable consumer and
applies each revision into its `rules` table (`store.apply_province_rules`), where the
line service finds it as it finds any rule: screening never waits on the network. A site
whose server is a leaf node of the hub's (`province_domain` in `[cluster]`) keeps a mirror
of the stream on its own server, filled by that server: the site's boxes read the mirror,
so a box that starts while the province's link is down still has every rule the mirror
holds, and the mirror catches up when the link is back.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from nats.js import JetStreamContext, api
from nats.js.errors import NoKeysError, NotFoundError
from nats.js.kv import KeyValue
from sqlite_utils import Database

from appliance.cluster.idle import IdleWait
from appliance.cluster.messages import PROVINCE_RULES_BUCKET, RULE_HISTORY, province_rule_key
from appliance.cluster.permissions import PROVINCE_RULES_STREAM
from appliance.cluster.schema import RULE_COLUMNS

logger = logging.getLogger(__name__)

PROVINCE_RULES_SUBJECT = f"$KV.{PROVINCE_RULES_BUCKET}.>"


def rule_bucket_stream(name: str, subject: str, replicas: int) -> api.StreamConfig:
    """The stream of a rule bucket as nats-py's key-value store makes one: the last
    `RULE_HISTORY` revisions of each key, purges by roll-up only."""
    return api.StreamConfig(
        name=name,
        subjects=[subject],
        storage=api.StorageType.FILE,
        max_msgs_per_subject=RULE_HISTORY,
        allow_rollup_hdrs=True,
        deny_delete=True,
        discard=api.DiscardPolicy.NEW,
        duplicate_window=120.0,
        num_replicas=replicas,
    )


def province_rules_stream(replicas: int, *, mirror_of: str | None = None) -> api.StreamConfig:
    """The bucket's stream: on the hub's servers (`mirror_of` None), or on a site's server
    a mirror of the one in the JetStream domain `mirror_of`, which that server fills."""
    if mirror_of is None:
        return rule_bucket_stream(PROVINCE_RULES_STREAM, PROVINCE_RULES_SUBJECT, replicas)
    origin = api.ExternalStream(api=f"$JS.{mirror_of}.API")
    return api.StreamConfig(
        name=PROVINCE_RULES_STREAM,
        mirror=api.StreamSource(name=PROVINCE_RULES_STREAM, external=origin),
        storage=api.StorageType.FILE,
        max_msgs_per_subject=RULE_HISTORY,
        num_replicas=replicas,
    )


async def ensure_province_rules(
    js: JetStreamContext, replicas: int, *, mirror_of: str | None = None
) -> None:
    """Create the bucket's stream (or a site's mirror of it) where it is missing."""
    try:
        await js.stream_info(PROVINCE_RULES_STREAM)
    except NotFoundError:
        await js.add_stream(province_rules_stream(replicas, mirror_of=mirror_of))


def hub_rules(db: Database, hub: str) -> dict[str, dict[str, Any]]:
    """Every rule made at the hub (removed ones too), by id, as the bucket holds it: the
    row's shared columns, with the hub as its origin."""
    columns = [name for name in RULE_COLUMNS if name != "origin"]
    cursor = db.execute(
        f"SELECT {', '.join(columns)} FROM rules WHERE origin IS NULL ORDER BY created_ts, id"
    )
    return {
        str(row[0]): {**dict(zip(columns, row, strict=True)), "origin": hub}
        for row in cursor.fetchall()
    }


def rules_version(db: Database) -> int:
    """`rules_version.version`: bumped by a trigger at every change of the rules table."""
    found = db.execute("SELECT version FROM rules_version WHERE id = 1").fetchone()
    return int(found[0]) if found else 0


class ProvincePublisher:
    """Keeps the province's bucket equal to the hub's rules table."""

    def __init__(self, db: Database, hub: str) -> None:
        self.db = db
        self.hub = hub
        self.published = 0

    async def run(self, kv: KeyValue) -> None:
        """Publish what the bucket lacks, then every change, until cancelled or failed.

        The database is looked at with `PRAGMA data_version` (which changes only when
        another connection commits) and this connection's own changes, every 10 ms after a
        change and less often while nothing happens (`appliance.cluster.idle`); the rules'
        version is read only then, so a block made at the hub leaves for the sites within
        10-160 ms, for next to no work while nothing happens."""
        in_bucket = await bucket_rules(kv)
        seen_version: int | None = None
        seen_state: tuple[int, int] | None = None
        idle = IdleWait()
        while True:
            state = (
                self.db.execute("PRAGMA data_version").fetchone()[0],
                self.db.conn.total_changes,
            )
            if state != seen_state:
                seen_state = state
                idle.changed()
                version = rules_version(self.db)
                if version != seen_version:
                    await self._publish_changes(kv, in_bucket)
                    seen_version = version
            await idle.sleep()

    async def _publish_changes(self, kv: KeyValue, in_bucket: dict[str, dict[str, Any]]) -> None:
        for rule_id, rule in hub_rules(self.db, self.hub).items():
            if in_bucket.get(rule_id) == rule:
                continue
            revision = await kv.put(province_rule_key(rule_id), _encode(rule))
            in_bucket[rule_id] = rule
            self.published += 1
            logger.info("hub: province rule %s published (revision %d)", rule_id, revision)


async def bucket_rules(kv: KeyValue) -> dict[str, dict[str, Any]]:
    """The latest value of every key in the bucket (none when it is empty)."""
    try:
        keys = await kv.keys()
    except NoKeysError:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for key in keys:
        entry = await kv.get(key)
        if entry.value:
            found[key] = json.loads(entry.value)
    return found


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
