"""The admin's Accounts page: create accounts, reset passwords, change roles, end sessions.

Every form is parsed by a model below before anything is read or stored, every change is
recorded in the audit log, and a change that should lock someone out ends their sessions (the
admin's own session survives a change to their own account).
"""

from __future__ import annotations

from functools import wraps
from typing import Annotated, Any

from flask import Blueprint, flash, redirect, render_template, url_for
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationInfo, field_validator

from services.common.domain.accounts import ACCOUNT_NAME, ROLES, AccountError, Role
from services.common.domain.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from services.web.audit import audit
from services.web.auth import current_identity, current_session_id, require_role
from services.web.context import ctx
from services.web.errors import ApiError
from services.web.inputs import parse, parse_form

bp = Blueprint("accounts", __name__)

AccountName = Annotated[str, StringConstraints(pattern=ACCOUNT_NAME.pattern)]
# The rules (length, common passwords, the name) are checked by the store, in words a person
# can act on; the model only bounds what is read.
PasswordText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class _Form(BaseModel):
    # The csrf_token and buttons' names come with every form; only these fields are read.
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class AccountPath(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True)

    name: AccountName


class PasswordForm(_Form):
    password: PasswordText
    password_again: PasswordText

    @field_validator("password_again")
    @classmethod
    def _same_twice(cls, value: str, info: ValidationInfo) -> str:
        if "password" in info.data and value != info.data["password"]:
            raise ValueError("the two passwords differ")
        return value


class NewAccountForm(PasswordForm):
    name: AccountName
    role: Role


class RoleForm(_Form):
    role: Role


def _account_name(name: str) -> str:
    return parse(AccountPath, {"name": name}, "path").name


def _as_api_error(exc: AccountError) -> ApiError:
    if exc.code == "weak_password":
        return ApiError(400, exc.code, f"password: {exc}", field="password")
    return ApiError.from_refusal(exc)


def _page(error: ApiError | None = None) -> Any:
    c = ctx()
    page = render_template(
        "accounts.html",
        accounts=c.users.accounts(),
        sessions=c.users.sessions.live_counts(),
        roles=ROLES,
        min_password_length=MIN_PASSWORD_LENGTH,
        error=error,
    )
    return page, (error.status if error else 200)


def _done(message: str) -> Any:
    flash(message, "success")
    return redirect(url_for("accounts.accounts"))


def _refusals_on_the_page(view):
    """A refused change shows the page again with the reason and the refusal's status."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except AccountError as exc:
            return _page(_as_api_error(exc))
        except ApiError as exc:
            if exc.status >= 500:
                raise
            return _page(exc)

    return wrapper


def _own_session(name: str) -> str | None:
    """The caller's session, kept when they change their own account."""
    identity = current_identity()
    return current_session_id() if identity is not None and identity.name == name else None


@bp.get("/accounts")
@require_role("admin")
def accounts():
    return _page()


@bp.post("/accounts")
@require_role("admin")
@_refusals_on_the_page
def create_account():
    form = parse_form(NewAccountForm)
    account = ctx().users.create_account(form.name, form.password, form.role)
    audit("account.create", account.name, role=account.role)
    return _done(f"The {account.role} account {account.name} was created.")


@bp.post("/accounts/<name>/password")
@require_role("admin")
@_refusals_on_the_page
def set_password(name: str):
    name = _account_name(name)
    form = parse_form(PasswordForm)
    ended = ctx().users.set_password(name, form.password, keep_session=_own_session(name))
    audit("account.set_password", name, sessions_ended=ended)
    return _done(f"The password of {name} was changed; {ended} other session(s) ended.")


@bp.post("/accounts/<name>/role")
@require_role("admin")
@_refusals_on_the_page
def set_role(name: str):
    users = ctx().users
    name = _account_name(name)
    form = parse_form(RoleForm)
    before = users.account(name)
    ended = users.set_role(name, form.role, keep_session=_own_session(name))
    previous = before.role if before is not None else None
    audit("account.set_role", name, role=form.role, previous_role=previous, sessions_ended=ended)
    return _done(f"{name} is now {form.role}; {ended} other session(s) ended.")


@bp.post("/accounts/<name>/remove")
@require_role("admin")
@_refusals_on_the_page
def remove_account(name: str):
    users = ctx().users
    name = _account_name(name)
    before = users.account(name)
    ended = users.remove(name)
    role = before.role if before is not None else None
    audit("account.remove", name, role=role, sessions_ended=ended)
    return _done(f"The account {name} was removed; {ended} session(s) ended.")


@bp.post("/accounts/<name>/sessions/revoke")
@require_role("admin")
@_refusals_on_the_page
def revoke_sessions(name: str):
    name = _account_name(name)
    ended = ctx().users.revoke_sessions(name, keep_session=_own_session(name))
    audit("account.revoke_sessions", name, sessions_ended=ended)
    return _done(f"{ended} session(s) of {name} ended.")
