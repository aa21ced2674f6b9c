"""Login sessions over HTTP: refresh takes only a refresh token and rotates it, and logout, "sign out everywhere"
and a password change end sessions so that their tokens are refused at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest

from domain.uow import UnitOfWork
from domain.usecases import create_user
from tests.api.conftest import assert_problem

A = "/api/v1/auth"
PASSWORD = "correct horse"


@dataclass
class Login:
    email: str
    access: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _log_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Login:
    r = await client.post(f"{A}/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return Login(email, r.json()["access_token"], r.json()["refresh_token"])


@pytest.fixture
async def email(uow: UnitOfWork) -> str:
    address = f"s-{uuid.uuid4().hex[:10]}@example.com"
    await create_user(uow, address, PASSWORD)
    return address


async def _works(client: httpx.AsyncClient, token: str) -> bool:
    r = await client.get("/api/v1/me", headers=_bearer(token))
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


async def _api_token(client: httpx.AsyncClient, login: Login) -> str:
    created = await client.post("/api/v1/tokens", json={"name": "script"}, headers=login.headers)
    assert created.status_code == 201, created.text
    token: str = created.json()["token"]
    return token


async def test_login_answers_a_refresh_token_and_the_sessions_lifetime(client, email):
    """The login answer carries a refresh token and how long the session may be renewed."""
    body = (await client.post(f"{A}/login", json={"email": email, "password": PASSWORD})).json()
    assert body["refresh_token"].count(".") == 2 and body["refresh_token"] != body["access_token"]
    assert body["refresh_expires_in"] == 12 * 3600 and body["expires_in"] == 1800


async def test_refresh_with_the_refresh_token_in_the_body_gives_new_tokens(client, email):
    """A refresh token in the body renews the session with a new access and a new refresh token."""
    login = await _log_in(client, email)
    r = await client.post(f"{A}/refresh", json={"refresh_token": login.refresh})
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] != login.refresh
    assert await _works(client, r.json()["access_token"])


async def test_refresh_also_takes_the_refresh_token_as_the_bearer_credential(client, email):
    """The page sends its refresh token as `Authorization: Bearer`; that renews the session too."""
    login = await _log_in(client, email)
    r = await client.post(f"{A}/refresh", headers=_bearer(login.refresh))
    assert r.status_code == 200, r.text
    assert await _works(client, r.json()["access_token"])


async def test_refresh_with_a_personal_api_token_is_refused(client, email):
    """A personal API token can never be exchanged for a JWT."""
    token = await _api_token(client, await _log_in(client, email))
    assert_problem(await client.post(f"{A}/refresh", headers=_bearer(token)), 401)
    assert_problem(await client.post(f"{A}/refresh", json={"refresh_token": token}), 401)


async def test_refresh_with_an_access_token_is_refused(client, email):
    """An access token is not a refresh token: refreshing with it is 401."""
    login = await _log_in(client, email)
    assert_problem(await client.post(f"{A}/refresh", headers=login.headers), 401)
    assert_problem(await client.post(f"{A}/refresh", json={"refresh_token": login.access}), 401)


async def test_a_refresh_token_is_not_an_access_token(client, email):
    """A refresh token does not authenticate ordinary requests."""
    login = await _log_in(client, email)
    assert not await _works(client, login.refresh)


async def test_after_logout_the_sessions_access_and_refresh_tokens_are_refused(client, email):
    """Logout ends the session: its access token and its refresh token are refused at once."""
    login = await _log_in(client, email)
    assert (await client.post(f"{A}/logout", headers=login.headers)).status_code == 204
    assert_problem(await client.get("/api/v1/me", headers=login.headers), 401)
    assert_problem(await client.post(f"{A}/refresh", json={"refresh_token": login.refresh}), 401)


async def test_logout_ends_only_the_callers_session(client, email):
    """Another signed-in session of the same user keeps working after one logs out."""
    first, second = await _log_in(client, email), await _log_in(client, email)
    await client.post(f"{A}/logout", headers=first.headers)
    assert await _works(client, second.access)


async def test_logout_with_an_api_token_is_400_pointing_to_token_revocation(client, email):
    """An API token is not a session: logout with one says how to revoke it instead."""
    token = await _api_token(client, await _log_in(client, email))
    body = assert_problem(await client.post(f"{A}/logout", headers=_bearer(token)), 400)
    assert "DELETE /api/v1/tokens/" in str(body["detail"])


async def test_reusing_a_rotated_refresh_token_ends_the_whole_session(client, email):
    """Presenting a spent refresh token (a stolen copy) ends the session: the newest tokens stop working too."""
    login = await _log_in(client, email)
    renewed = (await client.post(f"{A}/refresh", json={"refresh_token": login.refresh})).json()
    assert_problem(await client.post(f"{A}/refresh", json={"refresh_token": login.refresh}), 401)
    assert_problem(await client.post(f"{A}/refresh", json={"refresh_token": renewed["refresh_token"]}), 401)
    assert not await _works(client, renewed["access_token"])


async def test_refresh_past_the_sessions_maximum_age_says_log_in_again(client, email, clock):
    """A session cannot be renewed past its absolute end, however often it was refreshed."""
    login = await _log_in(client, email)
    clock.advance(hours=12, seconds=1)
    body = assert_problem(await client.post(f"{A}/refresh", json={"refresh_token": login.refresh}), 401)
    assert "log in again" in str(body["detail"])


async def test_sign_out_everywhere_ends_every_session_but_keeps_api_tokens(client, email):
    """Sign out everywhere ends all of the user's sessions; API tokens are only revoked when asked."""
    first, second = await _log_in(client, email), await _log_in(client, email)
    token = await _api_token(client, first)
    r = await client.post(f"{A}/sessions/revoke", headers=first.headers)
    assert r.json() == {"sessions": 2, "api_tokens": 0}
    assert not await _works(client, first.access) and not await _works(client, second.access)
    assert_problem(await client.post(f"{A}/refresh", json={"refresh_token": second.refresh}), 401)
    assert await _works(client, token)


async def test_sign_out_everywhere_with_api_tokens_revokes_them_too(client, email):
    """{"api_tokens": true} also revokes every personal API token of the user."""
    login = await _log_in(client, email)
    token = await _api_token(client, login)
    r = await client.post(f"{A}/sessions/revoke", json={"api_tokens": True}, headers=login.headers)
    assert r.json() == {"sessions": 1, "api_tokens": 1}
    assert not await _works(client, token)


async def test_the_session_list_shows_live_sessions_and_marks_the_current_one(client, email):
    """GET /auth/sessions lists the user's live sessions only, the caller's marked current."""
    ended, other, mine = await _log_in(client, email), await _log_in(client, email), await _log_in(client, email)
    await client.post(f"{A}/logout", headers=ended.headers)
    listed = (await client.get(f"{A}/sessions", headers=mine.headers)).json()
    assert len(listed) == 2 and [s["current"] for s in listed].count(True) == 1
    current = next(s["id"] for s in listed if s["current"])
    assert (await client.delete(f"{A}/sessions/{current}", headers=other.headers)).status_code == 204
    assert not await _works(client, mine.access) and await _works(client, other.access)


async def test_ending_an_unknown_session_is_404(client, email):
    """DELETE /auth/sessions/{id} of a session that is not yours (or not live) is 404 on session_id."""
    login = await _log_in(client, email)
    assert_problem(await client.delete(f"{A}/sessions/{'0' * 32}", headers=login.headers), 404, "session_id")
    assert_problem(await client.delete(f"{A}/sessions/nope%00", headers=login.headers), 422, "session_id")


async def test_changing_the_password_ends_other_sessions_and_the_old_password_stops_working(client, email):
    """A password change ends every session, answers a fresh one, and only the new password logs in."""
    other, mine = await _log_in(client, email), await _log_in(client, email)
    r = await client.post(f"{A}/password", json={"current_password": PASSWORD, "new_password": "new battery"},
                          headers=mine.headers)
    assert r.status_code == 200, r.text
    assert not await _works(client, other.access) and not await _works(client, mine.access)
    assert await _works(client, r.json()["access_token"])
    assert_problem(await client.post(f"{A}/login", json={"email": email, "password": PASSWORD}), 401)
    assert await _works(client, (await _log_in(client, email, "new battery")).access)


async def test_a_wrong_current_password_is_422_on_current_password_and_changes_nothing(client, email):
    """A wrong current password is a field error (the caller's session stays signed in)."""
    login = await _log_in(client, email)
    r = await client.post(f"{A}/password", json={"current_password": "not it!!", "new_password": "new battery"},
                          headers=login.headers)
    assert_problem(r, 422, "current_password")
    assert await _works(client, login.access)
    await _log_in(client, email)  # the old password still works


async def test_a_short_new_password_is_422_on_new_password(client, email):
    """The new password follows the registration rule (at least 8 characters)."""
    login = await _log_in(client, email)
    r = await client.post(f"{A}/password", json={"current_password": PASSWORD, "new_password": "short"},
                          headers=login.headers)
    assert_problem(r, 422, "new_password")


async def test_guessing_the_current_password_backs_off_like_failed_logins(client, email):
    """With a stolen access token, wrong current passwords back off: after the free failures, 429 with Retry-After."""
    login = await _log_in(client, email)
    answers = []
    for _ in range(7):
        r = await client.post(f"{A}/password", json={"current_password": "not it!!", "new_password": "new battery"},
                              headers=login.headers)
        answers.append(r.status_code)
    assert answers[:5] == [422] * 5
    assert answers[-1] == 429
    assert int(r.headers["retry-after"]) >= 1
