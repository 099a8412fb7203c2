"""Recording admin actions in the audit log, with the caller and client address of the request."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from services.common.storage.audit import AuditLog


def audit_log() -> AuditLog:
    return current_app.extensions["attendance"].audit


def audit(action: str, target: str | None = None, **details: Any) -> None:
    """Record ``action`` by the current caller (call after the action succeeded)."""
    identity = g.get("identity")
    audit_log().record(
        action,
        actor=identity.name if identity is not None else "anonymous",
        target=target,
        client=request.remote_addr,
        details=details,
    )
