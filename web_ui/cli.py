"""The `siaga` program, put together: the appliance's commands (`appliance.cli`) and the
web UI's, `siaga web` (serve the web UI), `siaga user ...` (its accounts) and `siaga
restore` (the system page's restore, from the console).

This is the top layer, so the program is assembled here: the console script and
`python -m web_ui.cli` run `main`. The web stack (FastAPI, the templates) is imported
only inside the commands that use it, so `siaga run` and the other appliance commands
never load it.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from appliance import cli
from appliance.cli import (
    UsageError,
    add_command,
    add_commands,
    add_common,
    config_of,
    db_path_of,
    print_rows,
    zone_of,
)

if TYPE_CHECKING:
    from web_ui.core.server import TlsFiles

logger = logging.getLogger("siaga")

PROGRAM_MODULE = "web_ui.cli"  # `python -m web_ui.cli` runs the whole program


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `siaga` console script."""
    return cli.main(argv, groups=(add_web_commands,), program_module=PROGRAM_MODULE)


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the web UI in this process (the line service runs without it)."""
    from web_ui.app import create_app
    from web_ui.core.server import serve_forever, tls_options
    from web_ui.core.web_settings import SettingsError, settings_for

    config = config_of(args)
    host = args.host or config.web.host
    port = args.port or config.web.port
    tls = _web_tls(args, host)
    scheme = "https" if tls is not None else "http"
    db_path = db_path_of(args, config)
    try:
        settings = settings_for(
            db_path,
            timezone=config.site.timezone,
            site_name=config.site.name,
            cookie_secure=args.secure_cookies or tls is not None,  # Secure under TLS
            base_url=f"{scheme}://{host}:{port}",
        )
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    root = logging.getLogger()
    root.setLevel(min(root.level, logging.INFO))  # a service: its start belongs in the journal
    logger.warning("siaga web on %s://%s:%d; database %s", scheme, host, port, db_path)
    serve_forever(  # timeouts, trusted headers and TLS: web_ui.core.server
        create_app(settings),
        settings,
        host=host,
        port=port,
        log_config=None,
        access_log=args.verbose > 0,
        **tls_options(tls),
    )
    return 0


def _web_tls(args: argparse.Namespace, host: str) -> TlsFiles | None:
    """The certificate and key to serve HTTPS with (checked), or None for plain HTTP, which
    only loopback gets without --insecure-http."""
    from web_ui.core.server import ListenError, TlsFiles, check_listening, check_tls_files

    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together: give both, or neither")
    tls = None
    if args.tls_cert is not None:
        tls = TlsFiles(certificate=Path(args.tls_cert), key=Path(args.tls_key))
    try:
        check_listening(host, tls, insecure_http=args.insecure_http)
        if tls is not None:
            check_tls_files(tls)
    except ListenError as exc:
        raise UsageError(str(exc)) from None
    return tls


def _user_db(args: argparse.Namespace) -> tuple[sqlite3.Connection, ZoneInfo]:
    """The database, migrated, opened for the web UI's account tables."""
    from web_ui.core import db as web_db

    config = config_of(args)
    path = db_path_of(args, config)
    web_db.migrate(path, busy_timeout_s=5.0)
    return web_db.connect(path, busy_timeout_s=5.0), zone_of(config)


def _cli_actor() -> Any:
    """Who the audit log names for a change made here: `cli:<login name>`."""
    import getpass

    from web_ui.users.audit import Actor

    return Actor(name=f"cli:{getpass.getuser()}")


def _new_password(args: argparse.Namespace) -> str:
    """A new password: one line of standard input, or typed twice at the terminal."""
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UsageError("no terminal to type the password on: use --password-stdin")
    first = getpass.getpass("new password: ")
    if first != getpass.getpass("the same again: "):
        raise UsageError("the two passwords differ")
    return first


def _user_error(name: str, code: str) -> UsageError:
    from web_ui.core.i18n import translate

    return UsageError(f"{name!r}: {translate('en', code)}")


def cmd_user_add(args: argparse.Namespace) -> int:
    """Add a web UI account (the first one, a technician, comes from here or /setup)."""
    from web_ui.users.service import UserError, create_user, prepare_new_user

    password = _new_password(args)
    try:
        new = prepare_new_user(args.name, args.display_name, args.role, password, args.language)
    except UserError as exc:
        raise _user_error(args.name, exc.code) from None
    conn, zone = _user_db(args)
    try:
        user = create_user(conn, _cli_actor(), new, zone)
    except UserError as exc:
        raise _user_error(args.name, exc.code) from None
    finally:
        conn.close()
    sys.stdout.write(f"added user {user.username} ({user.role.value})\n")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    """List the web UI accounts."""
    from web_ui.users.service import list_users

    conn, zone = _user_db(args)
    try:
        users = list_users(conn)
    finally:
        conn.close()
    rows = [
        {
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role.value,
            "language": user.language,
            "status": "disabled" if user.disabled else "active",
            "created_at": datetime.fromtimestamp(user.created_ts, zone).isoformat("T", "seconds"),
        }
        for user in users
    ]
    columns = ["username", "display_name", "role", "language", "status", "created_at"]
    print_rows(rows, columns, args.csv)
    return 0


def _existing_user_id(conn: sqlite3.Connection, name: str) -> int:
    from web_ui.users.service import get_by_username

    user = get_by_username(conn, name)
    if user is None:
        raise UsageError(f"no user {name!r}")
    return user.id


def cmd_user_disable(args: argparse.Namespace) -> int:
    """Disable a web UI account; its sessions end at once."""
    from web_ui.users.service import UserError, update_user

    conn, zone = _user_db(args)
    try:
        user_id = _existing_user_id(conn, args.name)
        update_user(conn, _cli_actor(), user_id, zone, disabled=True)
    except UserError as exc:
        raise _user_error(args.name, exc.code) from None
    finally:
        conn.close()
    sys.stdout.write(f"disabled user {args.name}\n")
    return 0


def cmd_user_enable(args: argparse.Namespace) -> int:
    """Enable a disabled web UI account again; audited as `user.update`, like disable."""
    from web_ui.users.service import UserError, get_by_username, update_user

    conn, zone = _user_db(args)
    try:
        user = get_by_username(conn, args.name)
        if user is None:
            raise UsageError(f"no user {args.name!r}")
        if not user.disabled:
            sys.stdout.write(f"user {args.name} is already enabled\n")
            return 0
        update_user(conn, _cli_actor(), user.id, zone, disabled=False)
    except UserError as exc:
        raise _user_error(args.name, exc.code) from None
    finally:
        conn.close()
    sys.stdout.write(f"enabled user {args.name}\n")
    return 0


def cmd_user_unlock(args: argparse.Namespace) -> int:
    """Lift every login lock on a web UI account (from every address); audited."""
    from web_ui.auth.sessions import unlock
    from web_ui.users.service import get_by_username

    conn, zone = _user_db(args)
    try:
        user = get_by_username(conn, args.name)
        if user is None:
            raise UsageError(f"no user {args.name!r}")
        removed = unlock(conn, zone, _cli_actor(), user)
    finally:
        conn.close()
    sys.stdout.write(f"unlocked user {args.name} ({removed} failed login(s) forgotten)\n")
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    """Set a web UI account's password; its sessions end."""
    from web_ui.users.service import UserError, new_password_hash, set_password

    password = _new_password(args)
    conn, zone = _user_db(args)
    try:
        user_id = _existing_user_id(conn, args.name)
        password_hash = new_password_hash(password, args.name)
        set_password(conn, _cli_actor(), user_id, password_hash, zone)
    except UserError as exc:
        raise _user_error(args.name, exc.code) from None
    finally:
        conn.close()
    sys.stdout.write(f"password of {args.name} changed\n")
    return 0


# ------------------------------------------------------------------------- restore


def cmd_restore(args: argparse.Namespace) -> int:
    """Replace the database with a backup, with the system page's checks and steps
    (`appliance.store.restore`): the file is checked and brought to this version's schema, the
    live database is kept as a safety copy, calls the service logged since the backup
    are handed on, every web session ends, and the audit log says who restored what."""
    import shutil
    import time

    from appliance.store import restore
    from web_ui.core.web_settings import SettingsError, settings_for
    from web_ui.system import service as system

    config = config_of(args)
    db_path = db_path_of(args, config)
    source = Path(args.file)
    if not source.is_file():
        raise UsageError(f"{source}: no such file (nothing was changed)")
    if not db_path.is_file():
        raise UsageError(f"no database at {db_path}: give --db or --config (nothing was changed)")
    try:
        settings = settings_for(db_path, timezone=config.site.timezone, site_name=config.site.name)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    running = _service_running(settings)
    try:
        token, upload = restore.start_upload(settings, expected_bytes=source.stat().st_size)
        try:
            shutil.copyfile(source, upload)
        except OSError as exc:
            restore.discard_upload(settings, token)
            raise UsageError(f"cannot read {source}: {exc} (nothing was changed)") from None
        summary = restore.inspect_upload(settings, token, service_running=running)
        sys.stdout.write(_restore_summary(source, summary, settings.zone))
        if not args.yes and not _confirmed(restore.CONFIRM_WORD):
            restore.discard_upload(settings, token)
            sys.stdout.write("not confirmed: nothing was changed\n")
            return 1
        actor, now_ts = _cli_actor(), time.time()
        outcome = restore.restore(
            settings,
            token,
            by=actor.name,
            audit=system.restore_audit(actor, settings.zone, now_ts),
            now_ts=now_ts,
            service_running=running,
        )
    except restore.RestoreRefused as refused:
        raise UsageError(f"{system.refusal_text(refused, 'en')} (nothing was changed)") from None
    sys.stdout.write(
        f"restored: {outcome.summary.calls} calls (there were {outcome.calls_before});"
        f" the previous database is kept in {outcome.safety_copy};"
        " everybody logs in to the web UI again\n"
    )
    return 0


def _service_running(settings: Any) -> bool:
    """Whether the line service's heartbeat is fresh, as the system page judges it."""
    import time

    from web_ui.core import db as web_db
    from web_ui.home import service as dashboard

    conn = web_db.connect(settings.db_path, busy_timeout_s=settings.busy_timeout_s)
    try:
        return bool(dashboard.service_status(conn, time.time(), settings.zone).running)
    finally:
        conn.close()


def _restore_summary(source: Path, summary: Any, zone: ZoneInfo) -> str:
    def day(ts: float | None) -> str:
        return "-" if ts is None else datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M")

    migrated = ", ".join(summary.migrated) or "none needed"
    return (
        f"{source}: {summary.size / 2**20:.1f} MB, {summary.calls} calls"
        f" from {day(summary.first_call_ts)} to {day(summary.last_call_ts)},"
        f" {summary.users} accounts (technicians: {', '.join(summary.technicians)});"
        f" schema updates: {migrated}\n"
    )


def _confirmed(word: str) -> bool:
    """The technician types `word` on the terminal (an empty or closed stdin is a no)."""
    sys.stdout.write(f"This replaces the database. Type {word} to go on: ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip() == word


def add_web_commands(sub: Any) -> None:
    """`siaga web`, `siaga user ...` and `siaga restore`."""
    web = add_command(
        sub,
        "web",
        "serve the web UI (pages and JSON API)",
        "Serve the web UI (pages and JSON API) on the config's web.host and web.port, or"
        " --host and --port. --tls-cert and --tls-key serve HTTPS; plain HTTP on an address"
        " beyond loopback is refused unless --insecure-http says it is meant.",
    )
    add_common(web)
    web.add_argument("--host", help="address to listen on (default: the config's web.host)")
    web.add_argument(
        "--port", type=cli.port_number, help="port (default: the config's web.port, 8112)"
    )
    web.add_argument(
        "--secure-cookies",
        action="store_true",
        help="mark cookies Secure (implied by --tls-cert)",
    )
    web.add_argument(
        "--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM; with --tls-key)"
    )
    web.add_argument("--tls-key", metavar="FILE", help="the certificate's private key (PEM)")
    web.add_argument(
        "--insecure-http",
        action="store_true",
        help="allow plain HTTP on an address beyond loopback (passwords cross the network"
        " in clear)",
    )
    web.set_defaults(func=cmd_web)

    user = add_command(sub, "user", "web UI accounts", "Manage the web UI's accounts.")
    actions = add_commands(user, "user_action")
    add = add_command(
        actions,
        "add",
        "add an account",
        "Add a web UI account (the first one, a technician, comes from here or the /setup"
        " page). The password is typed twice at the terminal, or read from one line of"
        " standard input with --password-stdin.",
    )
    add_common(add)
    add.add_argument("name", metavar="NAME", help="user name: 2-32 letters, digits, . _ -")
    add.add_argument(
        "--role",
        required=True,
        choices=["operator", "supervisor", "technician"],
        help="what the account may do: operator (the console), supervisor (also reports,"
        " the call log, rules, the audit log), technician (also users, settings, lines,"
        " the system page)",
    )
    add.add_argument(
        "--display-name", default="", help="name shown in the UI (default: the user name)"
    )
    add.add_argument(
        "--language",
        choices=["id", "en"],
        default="id",
        help="the account's language: id (Indonesian) or en (English) (default: %(default)s)",
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from one line of standard input",
    )
    add.set_defaults(func=cmd_user_add)
    listing = add_command(
        actions,
        "list",
        "list the accounts",
        "List the web UI accounts: user name, display name, role, language, status and when"
        " each was added.",
    )
    add_common(listing)
    listing.add_argument("--csv", action="store_true", help=cli.CSV_HELP)
    listing.set_defaults(func=cmd_user_list)
    disable = add_command(
        actions,
        "disable",
        "disable an account (ends its sessions)",
        "Disable a web UI account: it can no longer log in, and its sessions end at once. The"
        " last active technician cannot be disabled.",
    )
    add_common(disable)
    disable.add_argument("name", metavar="NAME", help="the account's user name")
    disable.set_defaults(func=cmd_user_disable)
    enable = add_command(
        actions,
        "enable",
        "enable a disabled account again",
        "Enable a disabled web UI account again (audited as user.update, like disable).",
    )
    add_common(enable)
    enable.add_argument("name", metavar="NAME", help="the account's user name")
    enable.set_defaults(func=cmd_user_enable)
    unlock = add_command(
        actions,
        "unlock",
        "lift an account's login locks (every address)",
        "Lift every login lock on a web UI account, from every address, as Unlock on the"
        " users page does (audited as user.unlock).",
    )
    add_common(unlock)
    unlock.add_argument("name", metavar="NAME", help="the account's user name")
    unlock.set_defaults(func=cmd_user_unlock)
    passwd = add_command(
        actions,
        "passwd",
        "set an account's password (ends its sessions)",
        "Set a web UI account's password, typed twice at the terminal or read with"
        " --password-stdin; the account's sessions end.",
    )
    add_common(passwd)
    passwd.add_argument("name", metavar="NAME", help="the account's user name")
    passwd.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the new password from one line of standard input",
    )
    passwd.set_defaults(func=cmd_user_passwd)

    restore = add_command(
        sub,
        "restore",
        "replace the database with a backup (the old one is kept)",
        "Replace the database with a backup, with the system page's checks and steps: the"
        " file is checked and brought to this version's schema, a summary is printed, and"
        " you type RESTORE (--yes skips the question). The replaced database is kept as a"
        " safety copy, calls logged since the backup are handed on, and every web session"
        " ends.",
    )
    add_common(restore)
    restore.add_argument(
        "file", metavar="FILE", help="a backup made by siaga backup or the system page"
    )
    restore.add_argument(
        "--yes", action="store_true", help="do not ask for RESTORE on the terminal"
    )
    restore.set_defaults(func=cmd_restore)


if __name__ == "__main__":
    sys.exit(main())
