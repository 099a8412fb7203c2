"""``attendance users list|add|set-password|set-role|remove|unlock``: web accounts from a shell.

The way to rotate a password (WEB_ADMIN_PASSWORD only creates the first admin). Passwords are
read from a prompt, or from standard input when it is not a terminal, never from the command
line, where other users of the machine could read them. Changes end the account's sessions and
are recorded in the audit log as done by ``cli:<os user>``.
"""

from __future__ import annotations

import argparse
import getpass
from typing import TextIO

from pymongo.database import Database

from services.common.cache import KeyValueCache
from services.common.domain.accounts import ROLES, AccountError
from services.common.storage.accounts import UserStore
from services.common.storage.audit import AuditLog
from services.web.login_throttle import LoginThrottle

REFUSED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="users_action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every account with its role and live sessions")
    add = actions.add_parser("add", help="create an account (asks for its password)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    password = actions.add_parser(
        "set-password", help="change an account's password and end its sessions"
    )
    password.add_argument("name")
    role = actions.add_parser("set-role", help="change an account's role and end its sessions")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    remove = actions.add_parser("remove", help="remove an account and end its sessions")
    remove.add_argument("name")
    unlock = actions.add_parser(
        "unlock", help="let an account log in again after too many failed attempts"
    )
    unlock.add_argument("name")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # No login name in the environment and none in the password database (a container).
        return "unknown"


def read_new_password(stdin: TextIO, stderr: TextIO) -> str | None:
    """Ask twice on a terminal; otherwise read the first line of standard input."""
    if stdin.isatty():
        first = getpass.getpass("New password: ", stream=stderr)
        if getpass.getpass("Again: ", stream=stderr) != first:
            stderr.write("the two passwords differ\n")
            return None
        return first
    line = stdin.readline().rstrip("\r\n")
    if not line:
        stderr.write("no password on standard input\n")
        return None
    return line


def run(
    args: argparse.Namespace,
    db: Database,
    stdin: TextIO,
    stdout: TextIO,
    stderr: TextIO,
    cache: KeyValueCache | None = None,
) -> int:
    users = UserStore(db)
    users.ensure_indexes()
    audit = AuditLog(db)
    actor = f"cli:{os_user()}"

    def record(action: str, **details: object) -> None:
        audit.record(action, actor=actor, target=args.name, client=None, details=details)

    try:
        if args.users_action == "list":
            sessions = users.sessions.live_counts()
            for account in users.accounts():
                stdout.write(
                    f"{account.name:<24} {account.role:<7} "
                    f"created {account.created_at:%Y-%m-%d %H:%M} UTC  "
                    f"sessions {sessions.get(account.name, 0)}\n"
                )
            return 0
        if args.users_action == "add":
            password = read_new_password(stdin, stderr)
            if password is None:
                return REFUSED
            account = users.create_account(args.name, password, args.role)
            record("account.create", role=account.role)
            stdout.write(f"created {account.role} account {account.name}\n")
        elif args.users_action == "set-password":
            password = read_new_password(stdin, stderr)
            if password is None:
                return REFUSED
            ended = users.set_password(args.name, password)
            record("account.set_password", sessions_ended=ended)
            stdout.write(f"password of {args.name} changed; {ended} session(s) ended\n")
        elif args.users_action == "set-role":
            before = users.account(args.name)
            ended = users.set_role(args.name, args.role)
            previous = before.role if before is not None else None
            record("account.set_role", role=args.role, previous_role=previous, sessions_ended=ended)
            stdout.write(f"{args.name} is now {args.role}; {ended} session(s) ended\n")
        elif args.users_action == "unlock":
            if users.account(args.name) is None:
                raise AccountError("not_found", f"no account named {args.name!r}")
            if cache is None:
                stderr.write("unlocking needs the cache (REDIS_URL) the web counts attempts in\n")
                return REFUSED
            LoginThrottle(cache).unlock(args.name)
            record("account.unlock")
            stdout.write(f"{args.name} may log in again\n")
        elif args.users_action == "remove":
            before = users.account(args.name)
            ended = users.remove(args.name)
            record("account.remove", role=before.role if before else None, sessions_ended=ended)
            stdout.write(f"removed {args.name}; {ended} session(s) ended\n")
    except AccountError as exc:
        stderr.write(f"refused ({exc.code}): {exc}\n")
        return REFUSED
    return 0
