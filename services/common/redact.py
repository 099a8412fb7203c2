"""Hiding credentials in URLs before they reach a log line or an error message.

Camera, broker, cache and database URLs often carry a user and password
(``rtsp://admin:secret@10.0.0.7/stream``), and some cameras take them as query parameters
(``?user=admin&pwd=secret``). Anything that shows a URL passes it through :func:`redact_url`.
"""

from __future__ import annotations

import re

HIDDEN = "***"

# A URL runs from its scheme to the first character that cannot be part of it in a log line.
# Its credentials are everything up to the LAST "@" in it: passwords are often written with
# unescaped "@", ":" or "/" in them, and cutting at the first one would show the rest.
_URL = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<rest>[^\s'\"<>`]+)")
_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&;](?:user(?:name)?|password|passwd|pass|pwd|secret|token|api_?key|auth)=)"
    r"(?P<value>[^&;#]*)",
    re.IGNORECASE,
)


def _redact_one(match: re.Match[str]) -> str:
    rest = match["rest"]
    if "@" in rest:
        rest = f"{HIDDEN}@{rest.rsplit('@', 1)[1]}"
    rest = _SECRET_PARAMETER.sub(lambda found: found["name"] + HIDDEN, rest)
    return match["scheme"] + rest


def redact_url(text: str) -> str:
    """``text`` with the user, password and secret query parameters of every URL in it hidden.

    Works on a bare URL or on a whole message that mentions URLs anywhere; text without URLs
    comes back unchanged.
    """
    return _URL.sub(_redact_one, text)
