"""Argon2 password hashing off the event loop: a small dedicated thread pool, so hashing never stalls requests.

One argon2 call costs ~100 ms of CPU and 64 MiB (m=65536, t=3, p=4). argon2-cffi releases the GIL while it
works, so the loop keeps serving; the pool's size caps the CPU and memory that hashing can take at once (further
calls queue). The pool belongs to the process, not to an event loop, so it serves every loop (tests, CLI runs).
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from pwdlib import PasswordHash

HASH_THREADS = 2

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_dummy: str | None = None


@functools.cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="argon2")
        return _pool


async def hash_password(password: str) -> str:
    """The argon2 hash of `password`, computed on the hashing pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), _hasher().hash, password)


async def verify_password(password: str, digest: str) -> bool:
    """Whether `password` matches the argon2 `digest`, checked on the hashing pool."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), _hasher().verify, password, digest)


async def verify_nothing(password: str) -> None:
    """Spend the time of a real verify (for a missing user), so timing does not tell whether an account exists."""
    global _dummy
    if _dummy is None:
        _dummy = await hash_password(secrets.token_urlsafe(16))
    await verify_password(password, _dummy)
