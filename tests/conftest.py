"""Kept only so `from tests.conftest import ...` goes on working while tests are being moved: the shared
fixtures live in the repository's root conftest.py and the helpers in tests/support.py."""
from tests.support import CALC, CALC_TESTS, SEED_TICKET, client_for, git, make_remote_repo, make_user

__all__ = ["CALC", "CALC_TESTS", "SEED_TICKET", "client_for", "git", "make_remote_repo", "make_user"]
