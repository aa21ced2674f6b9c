"""Bounded input over REST, on SQLite and PostgreSQL: huge tag lists, long rules, dates near year 1 or 9999, huge
ids and NUL characters are answered 422 naming the field, never 500."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import User, assert_problem

T = "/api/v1/tasks"
LONG_RULE = "FREQ=DAILY;BYHOUR=" + ",".join(["9"] * 100)


async def test_a_task_with_40000_tags_is_refused_with_422(client: httpx.AsyncClient, alice: User):
    """The review's 380 KiB body of 40,000 tags is refused naming tags, and no task is made."""
    body = {"title": "x", "tags": [f"t{i}" for i in range(40_000)]}
    problem = assert_problem(await client.post(T, json=body, headers=alice.headers), 422, "tags")
    assert "at most 20 tags" in str(problem["detail"])
    assert (await client.get(T, headers=alice.headers)).json()["count"] == 0


async def test_bulk_tagging_with_more_than_twenty_tags_is_refused(client: httpx.AsyncClient, alice: User):
    """A bulk add_tags takes at most 20 tags."""
    task = (await client.post(T, json={"title": "x"}, headers=alice.headers)).json()
    body = {"action": "add_tags", "ids": [task["id"]], "tags": [f"t{i}" for i in range(21)]}
    assert_problem(await client.post(f"{T}/bulk", json=body, headers=alice.headers), 422, "tags")


async def test_a_tag_filter_of_more_than_twenty_tags_is_refused(client: httpx.AsyncClient, alice: User):
    """?tag= repeated 21 times is refused naming tag."""
    params = [("tag", f"t{i}") for i in range(21)]
    assert_problem(await client.get(T, params=params, headers=alice.headers), 422, "tag")


@pytest.mark.parametrize("body", [
    {"title": "r", "recurrence": {"rule": LONG_RULE}},
    {"title": "r", "recurrence": {"rule": "x" * 10_000}},
], ids=["217-char-rrule", "10k-phrase"])
async def test_a_recurrence_rule_over_200_characters_is_refused_with_422(client: httpx.AsyncClient, alice: User, body):
    """Both databases answer 422 naming the rule (PostgreSQL answered 500, SQLite stored it)."""
    assert_problem(await client.post(T, json=body, headers=alice.headers), 422, "recurrence.rule")
    assert (await client.get(T, headers=alice.headers)).json()["count"] == 0


@pytest.mark.parametrize(("method", "path", "payload", "field"), [
    ("POST", T, {"title": "x", "due_at": "0001-01-01"}, "due_at"),
    ("POST", T, {"title": "x", "due_at": "9999-12-31T23:59-05:00"}, "due_at"),
    ("POST", T, {"title": "x", "recurrence": {"rule": "daily", "until": "0001-01-01"}}, "until"),
    ("GET", f"{T}?due_before=0001-01-01", None, "due_before"),
    ("GET", f"{T}?due_after=9999-12-31", None, "due_after"),
    ("GET", "/api/v1/audit?since=0001-01-01T00:00:00", None, "since"),
    ("GET", "/api/v1/audit?until=9999-12-31T23:59:59", None, "until"),
    ("GET", "/api/v1/recurrence/preview?rule=daily&start=0001-01-01", None, "start"),
    ("GET", "/api/v1/recurrence/preview?rule=daily&start=9999-12-31", None, "start"),
    ("GET", "/api/v1/conversations/1/messages?after_seq=100000000000000000000", None, "after_seq"),
], ids=lambda v: v if isinstance(v, str) and not v.startswith("/") else None)
async def test_edge_dates_and_huge_numbers_are_refused_with_422(
    client: httpx.AsyncClient, alice: User, method, path, payload, field
):
    """Year 1, year 9999 and a 21-digit seq are refused naming the field (they were 500s)."""
    response = await client.request(method, path, json=payload, headers=alice.headers)
    assert_problem(response, 422, field)


@pytest.mark.parametrize(("path", "body", "field"), [
    (T, {"title": "a\u0000b"}, "title"),
    (T, {"title": "x", "tags": ["ok", "b\u0000d"]}, "tags"),
    ("/api/v1/tokens", {"name": "script\u0000"}, "name"),
], ids=["title", "tag", "token-name"])
async def test_a_nul_character_is_refused_with_422(client: httpx.AsyncClient, alice: User, path, body, field):
    """PostgreSQL cannot store NUL: it is refused up front on both databases."""
    assert_problem(await client.post(path, json=body, headers=alice.headers), 422, field)


async def test_a_nul_in_a_login_email_is_refused_with_422_without_signing_in(client: httpx.AsyncClient):
    """The unauthenticated login route refuses a NUL in the email (a 500 on PostgreSQL before)."""
    body = {"email": "a\u0000@example.com", "password": "correct horse"}
    assert_problem(await client.post("/api/v1/auth/login", json=body), 422, "email")


async def test_a_nul_in_a_search_or_tag_path_is_refused_with_422(client: httpx.AsyncClient, alice: User):
    """Query and path strings refuse NUL too."""
    assert_problem(await client.get(T, params={"q": "mi\u0000lk"}, headers=alice.headers), 422, "q")
    assert_problem(await client.delete("/api/v1/tags/a%00b", headers=alice.headers), 422, "name")
