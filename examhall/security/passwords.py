"""argon2id password hashing with a cap on concurrent hashes (R-SEC-1).

Parameters: OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1) by default, set in
Settings. Hashing runs in a worker thread (argon2-cffi releases the GIL) behind a
semaphore, so that a burst of logins cannot use more than ``max_concurrent × m`` memory.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from examhall.config import Settings


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._limit = asyncio.Semaphore(settings.max_concurrent_hashes)
        # Verified against when the user does not exist, so both paths cost the same time.
        self._dummy_hash = self._hasher.hash("examhall-no-such-user")

    def hash_sync(self, password: str) -> str:
        return self._hasher.hash(password)

    async def hash(self, password: str) -> str:
        async with self._limit:
            return await asyncio.to_thread(self._hasher.hash, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy_hash, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, stored: str | None, password: str) -> bool:
        async with self._limit:
            return await asyncio.to_thread(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


MIN_PASSWORD_LENGTH = 10


def password_problem(password: str) -> str | None:
    """A reason to refuse a new staff password, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password must have at least {MIN_PASSWORD_LENGTH} characters"
    if password.isdigit() or password.isalpha():
        return "password must mix letters with digits or signs"
    return None
