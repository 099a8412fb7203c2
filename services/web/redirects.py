"""Where a page may send the browser after login: only paths of this site.

Browsers forgive a lot in a Location header: they drop tabs and newlines anywhere, read ``\\``
as ``/`` and ``//host`` as another site, so ``/\\t/evil.example`` leads away. Rather than
repair such a target, anything unusual is refused.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

MAX_TARGET_LENGTH = 2000


def is_local_path(target: str) -> bool:
    """True when ``target`` is a path on this site (``/page?query``) and nothing else."""
    if not target or len(target) > MAX_TARGET_LENGTH or "\\" in target:
        return False
    # Controls (tab, CR, LF, NUL...), format characters and every kind of space.
    if any(unicodedata.category(char)[0] in "CZ" for char in target):
        return False
    if not target.startswith("/") or target.startswith("//"):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and parts.path.startswith("/")


def local_path_or(target: str | None, fallback: str) -> str:
    return target if target is not None and is_local_path(target) else fallback
