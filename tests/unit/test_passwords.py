"""Password hashing runs on worker threads with a small cap, never on the event loop (argon2 costs ~100 ms of CPU)."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from pwdlib import PasswordHash

from domain.errors import AuthenticationFailed
from domain.uow import UnitOfWork
from domain.usecases import authenticate, create_user


class Spy:
    """Records the thread of every real argon2 call and the most calls running at once."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.running = 0
        self.most = 0
        self._lock = threading.Lock()

    def wrap(self, method):  # type: ignore[no-untyped-def]
        def spied(hasher, *args, **kwargs):  # type: ignore[no-untyped-def]
            with self._lock:
                self.threads.append(threading.current_thread())
                self.running += 1
                self.most = max(self.most, self.running)
            try:
                return method(hasher, *args, **kwargs)
            finally:
                with self._lock:
                    self.running -= 1

        return spied


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    spy = Spy()
    monkeypatch.setattr(PasswordHash, "hash", spy.wrap(PasswordHash.hash))
    monkeypatch.setattr(PasswordHash, "verify", spy.wrap(PasswordHash.verify))
    return spy


def _email() -> str:
    return f"pw-{uuid.uuid4().hex[:10]}@example.com"


async def test_registration_hashes_the_password_off_the_event_loop_thread(uow: UnitOfWork, spy: Spy) -> None:
    """create_user's argon2 hash runs on a worker thread."""
    await create_user(uow, _email(), "correct horse")
    assert spy.threads and threading.current_thread() not in spy.threads


async def test_login_verifies_the_password_off_the_event_loop_thread(uow: UnitOfWork, spy: Spy) -> None:
    """authenticate's argon2 verify runs on a worker thread, for a right and a wrong password."""
    email = _email()
    await create_user(uow, email, "correct horse")
    spy.threads.clear()
    await authenticate(uow, email, "correct horse")
    with pytest.raises(AuthenticationFailed):
        await authenticate(uow, email, "wrong horse")
    assert len(spy.threads) == 2 and threading.current_thread() not in spy.threads


async def test_a_missing_user_still_costs_a_verify_off_the_event_loop_thread(uow: UnitOfWork, spy: Spy) -> None:
    """The timing equaliser for unknown emails still runs argon2, on a worker thread."""
    with pytest.raises(AuthenticationFailed):
        await authenticate(uow, _email(), "whatever1")
    verified = [t for t in spy.threads if t is not threading.current_thread()]
    assert verified and len(verified) == len(spy.threads)


async def test_at_most_two_hashes_run_at_once_however_many_registrations_wait(uow: UnitOfWork, spy: Spy) -> None:
    """The argon2 pool is capped (each hash holds 64 MiB), so eight registrations never hash more than two at once."""
    await asyncio.gather(*(create_user(uow, _email(), "correct horse") for _ in range(8)))
    assert len(spy.threads) == 8 and spy.most <= 2
