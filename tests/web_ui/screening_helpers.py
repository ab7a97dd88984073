"""Shared by the tests that change screening settings on the session's one database.

Every web test shares one database, and the line services some of them run read the
`settings` table: a test that changes settings gives them back to the configuration file
when it ends, so the next test screens calls as it expects.
"""

from __future__ import annotations

import sqlite3

from tests.web_ui.conftest import LiveServer


def clear_lines(server: LiveServer) -> None:
    """No lines from the lines page left: the configuration file's are in force again."""
    conn = sqlite3.connect(server.db_path, timeout=10.0)
    try:
        with conn:
            conn.execute("DELETE FROM web_lines")
    finally:
        conn.close()


def clear_settings(server: LiveServer) -> None:
    """Every screening setting back to the configuration file's (no override left)."""
    conn = sqlite3.connect(server.db_path, timeout=10.0)
    try:
        with conn:
            conn.execute("DELETE FROM settings")
    finally:
        conn.close()
