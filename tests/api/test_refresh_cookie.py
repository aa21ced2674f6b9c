"""The web page's session cookie over HTTP: a cookie-mode login sets the refresh token as an HttpOnly, SameSite
cookie for /api/v1/auth (Secure only over https) and keeps it out of the body; refresh with the cookie rotates
it, a replay ends the session, two tabs renewing at once do not; logout and sign out everywhere clear it; every
cookie request needs X-Requested-With; API clients that do not ask for the cookie see no change."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from domain.access_tokens import AUDIENCE_REFRESH, decode_token
from domain.uow import UnitOfWork
from domain.usecases import create_user
from tests.api.conftest import SECRET, api_client, assert_problem
from web.deps import ApiState
from web.routes.auth import REFRESH_GRACE

A = "/api/v1/auth"
PASSWORD = "correct horse"
PAGE = {"X-Requested-With": "todo-agent"}
COOKIE = "todo_agent_refresh"
LOGIN_KEYS = {"access_token", "token_type", "expires_in", "refresh_expires_in"}


@pytest.fixture
async def email(uow: UnitOfWork) -> str:
    address = f"c-{uuid.uuid4().hex[:10]}@example.com"
    await create_user(uow, address, PASSWORD)
    return address


@pytest.fixture
async def https_client(api_state: ApiState) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_state, "https://testserver") as c:
        yield c


@pytest.fixture(autouse=True)
def fixed_clock(clock) -> None:
    """Stopped (so Max-Age values are exact) a little before the real time: PyJWT checks a token's expiry and
    issue time against the real clock, so tests may advance this one by a few minutes."""
    clock.set(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10))


def set_cookie(response: httpx.Response) -> tuple[str, list[str]]:
    """The value and the attributes, in order, of the one Set-Cookie header the answer carries."""
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    name_value, *attributes = headers[0].split("; ")
    name, _, value = name_value.partition("=")
    assert name == COOKIE
    return value, [a for a in attributes if not a.startswith("expires=")]


async def post(client: httpx.AsyncClient, path: str, *, cookie: str | None = None, page: bool = True,
               **kwargs: object) -> httpx.Response:
    """POST as the page does: the cookie (only when given; the client keeps no jar) and X-Requested-With."""
    client.cookies.clear()
    headers = dict(PAGE if page else {}) | dict(kwargs.pop("headers", {}))  # type: ignore[call-overload]
    if cookie is not None:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    return await client.post(path, headers=headers, **kwargs)  # type: ignore[arg-type]


async def cookie_login(client: httpx.AsyncClient, email: str) -> tuple[httpx.Response, str]:
    r = await post(client, f"{A}/login", json={"email": email, "password": PASSWORD, "session": "cookie"})
    assert r.status_code == 200, r.text
    return r, set_cookie(r)[0]


async def works(client: httpx.AsyncClient, access: str) -> bool:
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


def assert_cleared(response: httpx.Response, secure: bool = False) -> None:
    value, attributes = set_cookie(response)
    assert value == '""'
    assert attributes == ["HttpOnly", "Max-Age=0", "Path=/api/v1/auth", "SameSite=strict"] + (
        ["Secure"] if secure else [])


async def test_a_cookie_login_sets_an_httponly_strict_cookie_for_the_auth_routes_and_no_refresh_token(
    client, email
):
    """Over http: HttpOnly, SameSite, Path and the session's lifetime, not Secure; the body has no refresh token."""
    r, value = await cookie_login(client, email)
    assert set(r.json()) == LOGIN_KEYS and value not in r.text
    assert set_cookie(r)[1] == ["HttpOnly", "Max-Age=43200", "Path=/api/v1/auth", "SameSite=strict"]
    assert decode_token(value, SECRET, audience=AUDIENCE_REFRESH).session_id is not None
    assert await works(client, r.json()["access_token"])


async def test_over_https_the_cookie_is_secure(https_client, email):
    r, _ = await cookie_login(https_client, email)
    assert set_cookie(r)[1] == ["HttpOnly", "Max-Age=43200", "Path=/api/v1/auth", "SameSite=strict", "Secure"]


async def test_refresh_with_the_cookie_rotates_it_and_keeps_the_session_bound(client, email, clock):
    """Each cookie refresh answers a new access token and sets the next refresh token, Max-Age counting down."""
    now = clock.now()
    clock.set(now - timedelta(hours=1))  # signed in an hour ago (tokens must not be issued in the future)
    _, first = await cookie_login(client, email)
    clock.set(now)
    r = await post(client, f"{A}/refresh", cookie=first)
    assert r.status_code == 200, r.text
    second, attributes = set_cookie(r)
    assert second != first and set(r.json()) == LOGIN_KEYS
    assert attributes == ["HttpOnly", "Max-Age=39600", "Path=/api/v1/auth", "SameSite=strict"]
    assert await works(client, r.json()["access_token"])
    third = set_cookie(await post(client, f"{A}/refresh", cookie=second))[0]
    assert len({first, second, third}) == 3


async def test_an_old_cookie_presented_after_the_grace_window_ends_the_session_and_clears_the_cookie(
    client, email, clock
):
    """A spent refresh token is a stolen copy: the session ends, the newest cookie and access token too."""
    _, first = await cookie_login(client, email)
    renewed = await post(client, f"{A}/refresh", cookie=first)
    clock.advance(seconds=REFRESH_GRACE.total_seconds() + 1)
    replay = await post(client, f"{A}/refresh", cookie=first)
    body = assert_problem(replay, 401)
    assert body["type"].endswith("/session_ended") and "already used" in body["detail"]
    assert_cleared(replay)
    newest = await post(client, f"{A}/refresh", cookie=set_cookie(renewed)[0])
    assert assert_problem(newest, 401)["type"].endswith("/session_ended")
    assert not await works(client, renewed.json()["access_token"])


async def test_two_tabs_renewing_with_the_same_cookie_at_once_both_stay_signed_in(client, email, clock):
    """The slower of two simultaneous renewals sent the token the faster had spent: within the grace window it
    gets the same successor, and the session rotates on from there."""
    _, shared = await cookie_login(client, email)
    tabs = await asyncio.gather(*(post(client, f"{A}/refresh", cookie=shared) for _ in range(2)))
    assert [r.status_code for r in tabs] == [200, 200], [r.text for r in tabs]
    successors = {decode_token(set_cookie(r)[0], SECRET, audience=AUDIENCE_REFRESH).jti for r in tabs}
    assert len(successors) == 1
    clock.advance(seconds=REFRESH_GRACE.total_seconds() - 1)
    late = await post(client, f"{A}/refresh", cookie=shared)  # still the same renewal
    assert late.status_code == 200, late.text
    assert all([await works(client, r.json()["access_token"]) for r in (*tabs, late)])
    onward = await post(client, f"{A}/refresh", cookie=set_cookie(late)[0])
    assert onward.status_code == 200 and await works(client, onward.json()["access_token"])


async def test_the_grace_window_does_not_cover_a_token_two_renewals_old(client, email):
    _, first = await cookie_login(client, email)
    second = set_cookie(await post(client, f"{A}/refresh", cookie=first))[0]
    await post(client, f"{A}/refresh", cookie=second)
    assert_problem(await post(client, f"{A}/refresh", cookie=first), 401)


async def test_refresh_with_the_cookie_but_without_the_page_header_is_403_and_keeps_the_session(client, email):
    _, value = await cookie_login(client, email)
    r = await post(client, f"{A}/refresh", cookie=value, page=False)
    body = assert_problem(r, 403)
    assert body["type"].endswith("/page_header_missing") and "X-Requested-With: todo-agent" in body["detail"]
    assert "set-cookie" not in r.headers
    assert (await post(client, f"{A}/refresh", cookie=value)).status_code == 200


@pytest.mark.parametrize("path", ["login", "password"])
async def test_asking_for_cookie_mode_without_the_page_header_is_403_and_starts_no_session(
    client, email, path
):
    login, _ = await cookie_login(client, email)
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    body = {"email": email, "password": PASSWORD} if path == "login" else {
        "current_password": PASSWORD, "new_password": "new battery"}
    r = await post(client, f"{A}/{path}", page=False, json={**body, "session": "cookie"}, headers=bearer)
    assert_problem(r, 403)
    assert "set-cookie" not in r.headers
    sessions = await client.get(f"{A}/sessions", headers=bearer)
    assert len(sessions.json()) == 1  # no session was started, and the password was not changed
    assert (await client.post(f"{A}/login", json={"email": email, "password": PASSWORD})).status_code == 200


async def test_an_unknown_session_mode_is_422_on_session(client, email):
    r = await post(client, f"{A}/login", json={"email": email, "password": PASSWORD, "session": "jar"})
    assert_problem(r, 422, "session")


async def test_refresh_without_cookie_body_or_bearer_says_what_it_takes(client):
    body = assert_problem(await post(client, f"{A}/refresh"), 401)
    assert body["type"].endswith("/unauthorized") and "session cookie" in body["detail"]


async def test_a_garbage_cookie_is_refused_and_cleared(client):
    r = await post(client, f"{A}/refresh", cookie="not.a.token")
    assert assert_problem(r, 401)["type"].endswith("/unauthorized")
    assert_cleared(r)


async def test_logout_with_the_cookie_ends_the_session_and_clears_the_cookie(client, email):
    """The page signs out with its cookie alone (its access token may have run out meanwhile)."""
    login, value = await cookie_login(client, email)
    r = await post(client, f"{A}/logout", cookie=value)
    assert r.status_code == 204, r.text
    assert_cleared(r)
    assert not await works(client, login.json()["access_token"])
    assert assert_problem(await post(client, f"{A}/refresh", cookie=value), 401)["type"].endswith("/session_ended")


async def test_logout_over_https_clears_the_secure_cookie(https_client, email):
    _, value = await cookie_login(https_client, email)
    assert_cleared(await post(https_client, f"{A}/logout", cookie=value), secure=True)


async def test_logout_with_the_cookie_but_without_the_page_header_is_403_and_ends_nothing(client, email):
    login, value = await cookie_login(client, email)
    assert_problem(await post(client, f"{A}/logout", cookie=value, page=False), 403)
    assert await works(client, login.json()["access_token"])


async def test_logout_with_a_cookie_of_an_ended_session_still_clears_it(client, email):
    _, value = await cookie_login(client, email)
    assert (await post(client, f"{A}/logout", cookie=value)).status_code == 204
    again = await post(client, f"{A}/logout", cookie=value)
    assert again.status_code == 204
    assert_cleared(again)


async def test_sign_out_everywhere_clears_the_cookie_and_the_session_reads_as_ended(client, email):
    login, value = await cookie_login(client, email)
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    r = await post(client, f"{A}/sessions/revoke", cookie=value, headers=bearer)
    assert r.json() == {"sessions": 1, "api_tokens": 0}
    assert_cleared(r)
    refused = await post(client, f"{A}/refresh", cookie=value)
    body = assert_problem(refused, 401)
    assert body["type"].endswith("/session_ended") and "signed out" in body["detail"]


async def test_a_password_changed_on_another_device_reads_as_an_ended_session(client, email):
    _, here = await cookie_login(client, email)
    elsewhere = (await client.post(f"{A}/login", json={"email": email, "password": PASSWORD})).json()
    changed = await client.post(f"{A}/password", json={"current_password": PASSWORD, "new_password": "new battery"},
                                headers={"Authorization": f"Bearer {elsewhere['access_token']}"})
    assert changed.status_code == 200, changed.text
    assert assert_problem(await post(client, f"{A}/refresh", cookie=here), 401)["type"].endswith("/session_ended")


async def test_a_session_past_its_maximum_age_reads_as_expired_and_the_cookie_is_cleared(client, email, clock):
    _, value = await cookie_login(client, email)
    clock.advance(hours=12, seconds=1)
    r = await post(client, f"{A}/refresh", cookie=value)
    body = assert_problem(r, 401)
    assert body["type"].endswith("/session_expired") and "maximum age" in body["detail"]
    assert_cleared(r)


async def test_a_cookie_mode_password_change_sets_the_new_sessions_cookie(client, email):
    login, old = await cookie_login(client, email)
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    r = await post(client, f"{A}/password", cookie=old, headers=bearer,
                   json={"current_password": PASSWORD, "new_password": "new battery", "session": "cookie"})
    assert r.status_code == 200, r.text
    new, attributes = set_cookie(r)
    assert set(r.json()) == LOGIN_KEYS and new not in r.text and new != old
    assert attributes == ["HttpOnly", "Max-Age=43200", "Path=/api/v1/auth", "SameSite=strict"]
    assert (await post(client, f"{A}/refresh", cookie=new)).status_code == 200
    assert_problem(await post(client, f"{A}/refresh", cookie=old), 401)


async def test_api_clients_that_do_not_ask_for_the_cookie_get_the_refresh_token_and_no_cookie(client, email):
    """Without "session": "cookie" login, refresh, password change and logout answer as before: JSON only."""
    login = await client.post(f"{A}/login", json={"email": email, "password": PASSWORD})
    assert set(login.json()) == LOGIN_KEYS | {"refresh_token"} and "set-cookie" not in login.headers
    renewed = await client.post(f"{A}/refresh", json={"refresh_token": login.json()["refresh_token"]})
    assert set(renewed.json()) == LOGIN_KEYS | {"refresh_token"} and "set-cookie" not in renewed.headers
    bearer = {"Authorization": f"Bearer {renewed.json()['access_token']}"}
    changed = await client.post(f"{A}/password", json={"current_password": PASSWORD, "new_password": "new battery"},
                                headers=bearer)
    assert "refresh_token" in changed.json() and "set-cookie" not in changed.headers
    out = await client.post(f"{A}/logout", headers={"Authorization": f"Bearer {changed.json()['access_token']}"})
    assert out.status_code == 204 and "set-cookie" not in out.headers


async def test_a_json_refresh_keeps_strict_reuse_detection(client, email):
    """The grace window is the page's: an API client's replayed refresh token ends its session at once."""
    login = (await client.post(f"{A}/login", json={"email": email, "password": PASSWORD})).json()
    await client.post(f"{A}/refresh", json={"refresh_token": login["refresh_token"]})
    replay = await client.post(f"{A}/refresh", json={"refresh_token": login["refresh_token"]})
    assert assert_problem(replay, 401)["type"].endswith("/session_ended")
    assert "set-cookie" not in replay.headers
