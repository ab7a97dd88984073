"""Running `siaga sync` and printing its state for a technician."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TextIO

from appliance.cluster import store
from appliance.cluster.agent import SharingProcess, SyncAgent
from appliance.cluster.messages import PROVINCE_ORIGIN_PREFIX
from appliance.config import ClusterConfig

logger = logging.getLogger(__name__)


def run_agent(cluster: ClusterConfig, db_path: Path, *, timezone: str) -> None:
    """Share until stopped (Ctrl-C or SIGTERM end it cleanly)."""
    logger.warning(
        "siaga sync: appliance %s of site %s, servers %s; database %s",
        cluster.appliance,
        cluster.site,
        ", ".join(cluster.servers),
        db_path,
    )
    _run_until_stopped(SyncAgent(cluster, db_path, timezone=timezone))


def run_hub(cluster: ClusterConfig, db_path: Path, *, timezone: str) -> None:
    """Consume every site's streams until stopped."""
    from appliance.cluster.hub import Hub

    logger.warning("siaga hub: servers %s; database %s", ", ".join(cluster.servers), db_path)
    _run_until_stopped(Hub(cluster, db_path, timezone=timezone))


def _run_until_stopped(process: SharingProcess) -> None:
    """Run until Ctrl-C or SIGTERM (what `systemctl stop` sends): either ends it the same
    way, the database closed and the stop logged, with exit status 0."""
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_until_terminated(process.run()))
    finally:
        process.close()
        logger.warning("siaga %s stopped", process.role)


async def _until_terminated(main: Coroutine[Any, Any, None]) -> None:
    """Await `main`; SIGTERM cancels it, and the cancellation ends here, as a stop."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated: list[bool] = []

    def terminate() -> None:
        terminated.append(True)
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, terminate)
    try:
        await main
    except asyncio.CancelledError:
        if not terminated:
            raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def print_status(conn: sqlite3.Connection, out: TextIO) -> None:
    """Identity, messages waiting, and what peers have sent."""
    try:
        identity = conn.execute(
            "SELECT site, appliance, enabled FROM cluster_identity WHERE id = 1"
        ).fetchone()
        waiting = store.unsent_count(conn)
        oldest = conn.execute(
            "SELECT min(created_ts), max(attempts), last_error FROM outbox WHERE sent_ts IS NULL"
        ).fetchone()
        facts = conn.execute(  # a negative sequence: this box's own call-backs served
            "SELECT count(*), count(DISTINCT origin) FROM peer_facts WHERE origin_seq > 0"
        ).fetchone()
        shared_rules = conn.execute(
            "SELECT count(*) FILTER (WHERE substr(origin, 1, ?) != ?),"
            " count(*) FILTER (WHERE substr(origin, 1, ?) = ?)"
            " FROM rules WHERE origin IS NOT NULL",
            [len(PROVINCE_ORIGIN_PREFIX), PROVINCE_ORIGIN_PREFIX] * 2,
        ).fetchone()
        shared_settings = conn.execute(
            "SELECT count(*) FROM settings WHERE updated_by LIKE 'sync:%'"
        ).fetchone()
    finally:
        conn.close()
    if identity is None or not identity[2]:
        out.write("sharing: off (siaga sync has not run with this database)\n")
        return
    out.write(f"sharing: on, appliance {identity[1]} of site {identity[0]}\n")
    out.write(f"waiting to be sent: {waiting}\n")
    if waiting and oldest[1]:
        out.write(f"  tries so far: {oldest[1]}; last error: {oldest[2] or '-'}\n")
    out.write(f"rules from other appliances: {shared_rules[0]}\n")
    out.write(f"rules from the province: {shared_rules[1]}\n")
    out.write(
        f"facts received (verdicts, challenge outcomes, call-backs served, flood mode): "
        f"{facts[0]} from {facts[1]} appliance(s)\n"
    )
    out.write(f"settings sections as another appliance set them: {shared_settings[0]}\n")
