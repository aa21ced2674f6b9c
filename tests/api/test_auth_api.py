"""Accounts and tokens over HTTP: register, login (rate-limited), refresh, /me, personal API tokens, 401s."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from domain.access_tokens import AUDIENCE_MCP, issue_access_token
from tests.api.conftest import SECRET, assert_problem
from web.ratelimit import LoginLimiter
from web.routes.auth import REGISTERED

A = "/api/v1/auth"


def _email() -> str:
    return f"u-{uuid.uuid4().hex[:10]}@example.com"


async def _register(client, email, password="correct horse", timezone="UTC"):
    return await client.post(f"{A}/register", json={"email": email, "password": password, "timezone": timezone})


async def test_register_then_log_in_and_use_the_access_token(client):
    email = _email()
    r = await _register(client, email, timezone="Asia/Tokyo")
    assert r.status_code == 201 and r.json()["email"] == email and "password" not in r.text
    login = await client.post(f"{A}/login", json={"email": email.upper(), "password": "correct horse"})
    body = login.json()
    assert login.status_code == 200 and body["token_type"] == "bearer" and body["expires_in"] == 1800
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["timezone"] == "Asia/Tokyo"


@pytest.mark.parametrize(("body", "field"), [
    ({"email": "not-an-email", "password": "long enough"}, "email"),
    ({"email": "a@example.com", "password": "short"}, "password"),
    ({"email": "b@example.com", "password": "long enough", "timezone": "Mars/Olympus"}, "timezone"),
])
async def test_registration_refuses_bad_input_with_the_field(client, body, field):
    assert_problem(await client.post(f"{A}/register", json=body), 422, field)


async def test_registering_an_email_twice_answers_201_like_a_new_account(client):
    """A taken email is not revealed: the same 201 answer as for a fresh one (tests/api/test_limits.py has more)."""
    email = _email()
    await _register(client, email)
    again = await _register(client, email)
    assert again.status_code == 201 and again.json() == {"email": email, "detail": REGISTERED}


async def test_registration_can_be_switched_off(client, api_state):
    api_state.allow_registration = False
    assert_problem(await _register(client, _email()), 403)


async def test_a_wrong_password_is_401_and_too_many_attempts_are_429_per_account(client, api_state):
    api_state.login_limits = LoginLimiter(clock=lambda: 1000.0)  # frozen: the one-second backoff never passes
    email = _email()
    await _register(client, email)
    for _ in range(5):
        assert_problem(await client.post(f"{A}/login", json={"email": email, "password": "wrong!!!!"}), 401)
    limited = await client.post(f"{A}/login", json={"email": email, "password": "correct horse"})
    assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0


async def test_too_many_attempts_from_one_address_are_429_whatever_the_account(client, api_state):
    api_state.login_limits = LoginLimiter(address_limit=3)
    for _ in range(3):
        await client.post(f"{A}/login", json={"email": _email(), "password": "whatever1"})
    assert_problem(await client.post(f"{A}/login", json={"email": _email(), "password": "whatever1"}), 429)


async def test_refresh_takes_the_login_answers_refresh_token_never_the_access_token(client, alice):
    """Only the refresh token renews a session; the access token (here alice's) is refused."""
    assert_problem(await client.post(f"{A}/refresh", headers=alice.headers), 401)
    email = _email()
    await _register(client, email)
    login = (await client.post(f"{A}/login", json={"email": email, "password": "correct horse"})).json()
    r = await client.post(f"{A}/refresh", json={"refresh_token": login["refresh_token"]})
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
    assert me.json()["email"] == email


async def test_patching_me_changes_the_timezone_and_refuses_unknown_zones(client, alice):
    r = await client.patch("/api/v1/me", json={"timezone": "America/New_York"}, headers=alice.headers)
    assert r.json()["timezone"] == "America/New_York"
    assert_problem(await client.patch("/api/v1/me", json={"timezone": "Nowhere/Land"}, headers=alice.headers),
                   422, "timezone")


async def test_a_personal_token_is_shown_once_works_and_stops_working_when_revoked(client, alice):
    created = await client.post("/api/v1/tokens", json={"name": "script"}, headers=alice.headers)
    assert created.status_code == 201
    token = created.json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=bearer)).json()["id"] == alice.id
    listed = (await client.get("/api/v1/tokens", headers=alice.headers)).json()
    assert [t["name"] for t in listed] == ["script"] and token not in str(listed)
    assert listed[0]["last_used_at"] is not None
    r = await client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=alice.headers)
    assert r.json()["revoked_at"]
    assert_problem(await client.get("/api/v1/me", headers=bearer), 401)


def _expired(user_id: int, now) -> str:
    return issue_access_token(user_id, SECRET, now=now - timedelta(hours=2), ttl=timedelta(minutes=30))


@pytest.mark.parametrize("kind", ["missing", "not bearer", "garbage", "bad signature", "expired", "wrong audience",
                                  "unknown api token"])
async def test_every_token_failure_answers_401_with_www_authenticate(client, alice, uow, kind):
    now = uow.clock.now()
    headers = {
        "missing": {},
        "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "garbage": {"Authorization": "Bearer a.b.c"},
        "bad signature": {"Authorization": "Bearer " + issue_access_token(alice.id, "another-secret" * 4, now=now,
                                                                          ttl=timedelta(minutes=5))},
        "expired": {"Authorization": "Bearer " + _expired(alice.id, now)},
        "wrong audience": {"Authorization": "Bearer " + issue_access_token(alice.id, SECRET, now=now,
                                                                           ttl=timedelta(minutes=5),
                                                                           audience=AUDIENCE_MCP)},
        "unknown api token": {"Authorization": "Bearer tat_nope"},
    }[kind]
    for method, path in [("GET", "/api/v1/tasks"), ("GET", "/api/v1/me"), ("POST", "/api/v1/undo")]:
        r = await client.request(method, path, headers=headers)
        assert_problem(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
