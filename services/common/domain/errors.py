"""The base of errors that refuse a request for a reason its sender can fix."""

from __future__ import annotations


class RefusedRequest(ValueError):
    """A request that cannot be honoured; ``code`` is stable, so clients can act on it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
