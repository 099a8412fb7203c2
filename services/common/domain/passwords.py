"""What an account's password must be: long, not a well-known one, not the account's name.

Length beats composition rules (NIST SP 800-63B): 12 characters at least, no required digits
or symbols, but refused when it is a common password, a common word dressed up with digits and
symbols at its ends ("Sunshine2024!"), or the account's own name.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

MIN_PASSWORD_LENGTH = 12
# Hashing is deliberately slow; a megabyte-long "password" must not make it slower still.
MAX_PASSWORD_LENGTH = 256
MIN_DISTINCT_CHARACTERS = 4
# Digits and symbols people use for letters, so "P@ssw0rd" is recognised as "password".
_LOOKALIKES = str.maketrans("@401!3$57", "aaoiiesst")


class WeakPassword(ValueError):
    """The password breaks a rule; the message says which, in words a person can act on."""


@cache
def common_passwords() -> frozenset[str]:
    # The list is data shipped beside this module (package data), read once, on first use.
    text = resources.files(__name__.rpartition(".")[0]).joinpath("common_passwords.txt")
    return _words(text.read_text("utf-8"))


def _words(text: str) -> frozenset[str]:
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def check_password(password: str, username: str) -> None:
    """Raise :class:`WeakPassword` unless ``password`` may be used by account ``username``."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    folded = password.casefold()
    name = username.casefold()
    if name and (folded in name or len(folded.replace(name, "")) < MIN_PASSWORD_LENGTH):
        # The name is public, so it does not count towards the length.
        raise WeakPassword(
            f"a password must not be the account's name, and the name does not count towards "
            f"its {MIN_PASSWORD_LENGTH} characters"
        )
    if len(set(folded)) < MIN_DISTINCT_CHARACTERS:
        raise WeakPassword("a password needs more than a few different characters")
    if _is_common(folded):
        raise WeakPassword("this password is on the list of well-known passwords; choose another")


def _is_common(folded: str) -> bool:
    known = common_passwords()
    core = folded.strip("0123456789!@#$%^&*()_+-=.,;:?'\"~ ")
    candidates = {folded, core, folded.translate(_LOOKALIKES), core.translate(_LOOKALIKES)}
    return any(candidate in known for candidate in candidates)
