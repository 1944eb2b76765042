"""Local sign-in passwords: argon2id through argon2-cffi (its defaults follow RFC 9106)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
MIN_LENGTH = 12


# Verified when the user has no password (or does not exist), so that a wrong name costs the
# same time as a wrong password: timing does not tell which accounts exist.
@cache
def _dummy() -> str:
    return _HASHER.hash("agent-trace: no such account")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_problem(password: str) -> str | None:
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters"
    if len(password) > 1024:
        return "at most 1024 characters"
    return None


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
