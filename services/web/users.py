"""Moved: the account and token store is services/common/storage/accounts.py, its roles and
refusals services/common/domain/accounts.py.

Kept only for services/allinone.py and two tests outside the web (tests/integration/
test_first_admin.py, tests/integration/test_cli_tokens.py) that import it from here; remove
this file once they import from the new places.
"""

from __future__ import annotations

from services.common.domain.accounts import AccountError
from services.common.storage.accounts import UserStore

__all__ = ["AccountError", "UserStore"]
