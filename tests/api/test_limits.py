"""Login and registration limits: failures only, progressive per-account backoff that spares clean addresses,
per-address caps, bounded memory, and registration answers that do not reveal who has an account."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tests.api.conftest import assert_problem
from web.api import include_api
from web.deps import ApiState
from web.ratelimit import LoginLimiter, WindowLimiter

A = "/api/v1/auth"
PASSWORD = "correct horse"


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _email() -> str:
    return f"lim-{uuid.uuid4().hex[:10]}@example.com"


@asynccontextmanager
async def client_at(state: ApiState, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API connecting from `address`."""
    app = FastAPI()
    include_api(app, state)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(f"{A}/login", json={"email": email, "password": password})


async def _register(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(f"{A}/register", json={"email": email, "password": password})


async def test_the_owner_logs_in_from_a_clean_address_after_six_failures_from_another(api_state: ApiState) -> None:
    """An attacker's failures for an account do not lock its owner out of another address."""
    email = _email()
    async with client_at(api_state, "10.0.0.66") as attacker, client_at(api_state, "10.0.0.7") as owner:
        assert (await _register(owner, email)).status_code == 201
        for _ in range(6):
            await _login(attacker, email, "wrong guess")
        assert_problem(await _login(attacker, email, PASSWORD), 429)
        assert (await _login(owner, email, PASSWORD)).status_code == 200


async def test_successful_logins_do_not_count_against_the_address(api_state: ApiState) -> None:
    """Twenty-one right passwords from one address (a shared office NAT) all succeed."""
    email = _email()
    async with client_at(api_state, "10.0.1.1") as office:
        await _register(office, email)
        answers = [(await _login(office, email, PASSWORD)).status_code for _ in range(21)]
    assert answers == [200] * 21


async def test_failures_from_one_address_are_capped_whatever_the_accounts(api_state: ApiState) -> None:
    """An address that keeps failing, one account after another, gets 429 with Retry-After."""
    api_state.login_limits = LoginLimiter(address_limit=3)
    async with client_at(api_state, "10.0.2.2") as sprayer:
        for _ in range(3):
            assert_problem(await _login(sprayer, _email(), "whatever1"), 401)
        limited = await _login(sprayer, _email(), "whatever1")
    assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0


def test_the_backoff_grows_with_each_failure_after_five_free_ones() -> None:
    """Five failures are free; then the wait doubles from one second, up to fifteen minutes."""
    clock = FakeClock()
    limits = LoginLimiter(clock=clock, address_limit=10_000)
    waits = []
    for _ in range(20):
        wait = limits.begin("ada@example.com", "10.0.3.3")
        if wait is not None:
            waits.append(wait)
            clock.now += wait
            assert limits.begin("ada@example.com", "10.0.3.3") is None
    assert waits[:4] == [1, 2, 4, 8] and max(waits) == 900 and len(waits) == 15


def test_a_success_clears_the_failures_of_that_address_for_the_account() -> None:
    """After a right password, the address starts with five free attempts again."""
    clock = FakeClock()
    limits = LoginLimiter(clock=clock)
    for _ in range(4):
        assert limits.begin("ada@example.com", "10.0.4.4") is None
    limits.succeeded("ada@example.com", "10.0.4.4")
    assert all(limits.begin("ada@example.com", "10.0.4.4") is None for _ in range(5))


def test_an_address_that_failed_for_the_account_shares_its_backoff() -> None:
    """Spreading guesses over many addresses buys one attempt per address, not five."""
    clock = FakeClock()
    limits = LoginLimiter(clock=clock)
    for n in range(6):
        assert limits.begin("ada@example.com", f"10.0.5.{n}") is None
    assert limits.begin("ada@example.com", "10.0.5.0") is not None
    assert limits.begin("ada@example.com", "10.0.5.99") is None


def test_limiter_memory_stays_bounded_after_200000_distinct_keys() -> None:
    """Every key table is capped, however many accounts and addresses are tried."""
    limits = LoginLimiter(max_keys=100_000)
    for n in range(200_000):
        limits.begin(f"user{n}@example.com", f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}")
    assert 0 < max(limits.sizes().values()) <= 100_000


def test_keys_whose_failures_have_expired_are_dropped() -> None:
    """A key table forgets an address once its failures are outside the window."""
    clock = FakeClock()
    limiter = WindowLimiter(limit=3, window=60, clock=clock)
    for n in range(50):
        limiter.hit(f"10.0.6.{n}")
    clock.now += 61
    limiter.hit("10.0.7.1")
    assert len(limiter) == 1


async def test_registration_is_limited_per_address_with_retry_after(api_state: ApiState) -> None:
    """The eleventh registration within the hour from one address is 429 with Retry-After."""
    async with client_at(api_state, "10.0.8.8") as spammer:
        answers = [await _register(spammer, _email()) for _ in range(11)]
    assert [a.status_code for a in answers[:10]] == [201] * 10
    assert_problem(answers[10], 429)
    assert int(answers[10].headers["Retry-After"]) > 0


async def test_registering_an_existing_email_answers_like_a_new_registration(api_state: ApiState) -> None:
    """Status and body are the same for a taken email and a fresh one: register does not reveal accounts."""
    taken, fresh = _email(), _email()
    async with client_at(api_state, "10.0.9.9") as client:
        await _register(client, taken)
        again, new = await _register(client, taken, "another password"), await _register(client, fresh)
    assert (again.status_code, set(again.json())) == (new.status_code, set(new.json())) == (201, {"email", "detail"})
    assert again.json() == {**new.json(), "email": taken}


async def test_the_existing_accounts_password_is_unchanged_by_a_second_registration(api_state: ApiState) -> None:
    """Registering a taken email changes nothing: the first password still logs in, the second does not."""
    email = _email()
    async with client_at(api_state, "10.0.10.10") as client:
        await _register(client, email)
        await _register(client, email, "another password")
        assert (await _login(client, email, PASSWORD)).status_code == 200
        assert_problem(await _login(client, email, "another password"), 401)
