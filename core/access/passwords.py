"""Password hashing with argon2id (argon2-cffi) and the password policy.

Parameters follow OWASP's argon2id minimum (46 MiB, one pass, one lane); a stored hash made with older
parameters is re-hashed at the next successful sign-in. Checking a password against a fixed dummy hash when the
user name is unknown keeps "no such user" and "wrong password" equally slow.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import InvalidInputError

MIN_LENGTH = 12
MAX_LENGTH = 128
HASHER = PasswordHasher(time_cost=1, memory_cost=47_104, parallelism=1)
_DUMMY_HASH = HASHER.hash("memberhub: no such user")


def check_policy(password: str) -> str:
    """Refuse passwords that are too short, too long or only spaces; returns the password."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH or not password.strip():
        raise InvalidInputError(f"a password needs {MIN_LENGTH} to {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    """An argon2id hash of a password that meets the policy."""
    return HASHER.hash(check_policy(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; with ``None`` it burns the same time and says no."""
    try:
        return HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with weaker parameters than today's."""
    return HASHER.check_needs_rehash(stored_hash)
