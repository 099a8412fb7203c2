"""``attendance tokens create|list|revoke``: API tokens for scripts, from a shell.

The same tokens as the web's API tokens page (:meth:`UserStore.create_token`), owned by and
recorded in the audit log as ``cli:<os user>``. A new token's secret is written alone on
standard output, once, so that ``TOKEN=$(attendance tokens create --role viewer ci)`` works;
everything said to the person goes to standard error.
"""

from __future__ import annotations

import argparse
import re
import unicodedata
from typing import TextIO

from pymongo.database import Database

from services.common.domain.accounts import TOKEN_ROLES, AccountError
from services.common.storage.accounts import UserStore
from services.common.storage.audit import AuditLog
from services.web.account_commands import os_user

REFUSED = 1
MAX_NAME_LENGTH = 80
TOKEN_ID = re.compile(r"^[0-9a-f]{12}$")


def token_name(value: str) -> str:
    """argparse type: the rules of the API tokens page, checked before anything connects."""
    name = " ".join(value.split())
    if not name or len(name) > MAX_NAME_LENGTH:
        raise argparse.ArgumentTypeError(f"a token needs a name of 1-{MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise argparse.ArgumentTypeError("a token name cannot contain control characters")
    return name


def token_id(value: str) -> str:
    if not TOKEN_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(
            "a token id is 12 hexadecimal digits, as attendance tokens list shows them"
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="tokens_action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", help="make a token; its secret is printed once, alone on standard output"
    )
    create.add_argument("name", type=token_name, help="what the token is for, e.g. 'payroll'")
    create.add_argument("--role", required=True, choices=TOKEN_ROLES)
    actions.add_parser("list", help="every token: id, role, name, when and by whom it was made")
    revoke = actions.add_parser("revoke", help="revoke a token (and end kiosk sessions it opened)")
    revoke.add_argument("token_id", type=token_id, metavar="ID")


def run(args: argparse.Namespace, db: Database, stdout: TextIO, stderr: TextIO) -> int:
    users = UserStore(db)
    users.ensure_indexes()
    actor = f"cli:{os_user()}"
    if args.tokens_action == "create":
        try:
            token, secret = users.create_token(args.name, args.role, actor, owner=actor)
        except AccountError as exc:
            stderr.write(f"refused ({exc.code}): {exc}\n")
            return REFUSED
        AuditLog(db).record(
            "token.create",
            actor=actor,
            target=token.token_id,
            details={"name": token.name, "role": token.role},
        )
        stdout.write(secret + "\n")
        stderr.write(
            f"created {token.role} token {token.name!r} (id {token.token_id}); the secret above "
            "is shown only this once. Use it as: Authorization: Bearer <secret>\n"
        )
        return 0
    if args.tokens_action == "list":
        for token in users.tokens():
            stdout.write(
                f"{token.token_id}  {token.role:<6} {token.name!r}  created "
                f"{token.created_at:%Y-%m-%d %H:%M} UTC by {token.created_by}\n"
            )
        return 0
    if not users.revoke_token(args.token_id):
        stderr.write(f"refused (not_found): no token with id {args.token_id}\n")
        return REFUSED
    AuditLog(db).record("token.revoke", actor=actor, target=args.token_id)
    stdout.write(f"revoked token {args.token_id}\n")
    return 0
