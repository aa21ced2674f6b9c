"""REST: due dates in words on /api/v1/tasks, and quick add (POST /api/v1/tasks/quick and /quick/preview), on
both databases. Alice is in Europe/Berlin; "now" is Thursday 2026-12-03 10:30 there (her token was issued
against the real clock before the use cases' clock is frozen)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.usecases import Actor, list_projects
from tests.api.conftest import assert_problem

T = "/api/v1/tasks"
NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
PREVIEW_KEYS = {"title", "due_at", "due_date", "all_day", "due_local", "priority", "tags", "project", "recurrence",
                "chips"}
EXAMPLE = "buy stamps tomorrow at 9am p1 #errands every week"


@pytest.fixture(autouse=True)
def frozen(clock, alice) -> None:
    """Freeze the use cases' clock once alice's token exists (tokens are checked against the real clock)."""
    clock.set(NOW)


# --- due dates in words --------------------------------------------------------------------------------


async def test_creating_a_task_due_tomorrow_9am_reads_it_in_the_users_timezone(client, alice):
    response = await client.post(T, json={"title": "Dentist", "due_at": "tomorrow 9am"}, headers=alice.headers)
    assert response.status_code == 201, response.text
    task = response.json()
    assert (task["due_at"], task["due_date"], task["all_day"]) == ("2026-12-04T09:00:00+01:00", "2026-12-04", False)
    assert task["due_local"] == "2026-12-04 09:00 Fri"


async def test_a_day_in_words_makes_an_all_day_task_and_patch_and_filters_take_words_too(client, alice):
    task = (await client.post(T, json={"title": "Report", "due_at": "next friday"}, headers=alice.headers)).json()
    assert (task["due_at"], task["due_date"], task["all_day"]) == (None, "2026-12-11", True)
    changed = await client.patch(f"{T}/{task['id']}", json={"due_at": "friday 17:00"}, headers=alice.headers)
    assert changed.json()["due_at"] == "2026-12-04T17:00:00+01:00"
    soon = (await client.get(T, params={"due_before": "saturday"}, headers=alice.headers)).json()
    later = (await client.get(T, params={"due_after": "saturday"}, headers=alice.headers)).json()
    assert [t["title"] for t in soon["data"]] == ["Report"] and later["count"] == 0


async def test_a_due_phrase_it_cannot_read_is_a_problem_naming_due_at_with_examples(client, alice):
    response = await client.post(T, json={"title": "x", "due_at": "blorp"}, headers=alice.headers)
    body = assert_problem(response, 422, "due_at")
    assert "cannot read due date 'blorp'" in str(body["detail"])
    assert "'tomorrow 9am'" in str(body["detail"]) and "'2026-12-05T09:00'" in str(body["detail"])
    assert (await client.get(T, headers=alice.headers)).json()["count"] == 0


# --- quick add -----------------------------------------------------------------------------------------


async def test_quick_add_creates_the_task_and_answers_like_post_tasks(client, alice):
    response = await client.post(f"{T}/quick", json={"text": EXAMPLE}, headers=alice.headers)
    assert response.status_code == 201, response.text
    task = response.json()
    assert (task["title"], task["priority"], task["tags"]) == ("buy stamps", "urgent", ["errands"])
    assert task["due_at"] == "2026-12-04T09:00:00+01:00" and task["recurrence"]["rule"] == "every week"
    assert (await client.get(f"{T}/{task['id']}", headers=alice.headers)).json() == task
    plain = (await client.post(T, json={"title": "t"}, headers=alice.headers)).json()
    assert set(task) == set(plain)


async def test_quick_add_files_into_the_given_project_unless_the_text_names_one(client, alice, bob, uow):
    """`project` is where a line goes when it names no project with #name (the page sends the list it shows)."""
    for name in ("Shopping", "Garden"):
        assert (await client.post("/api/v1/projects", json={"name": name}, headers=alice.headers)).status_code == 201
    projects = {p["name"]: p["id"] for p in (await client.get("/api/v1/projects", headers=alice.headers)).json()}

    plain = await client.post(f"{T}/quick", json={"text": "bread #food", "project": "shopping"}, headers=alice.headers)
    named = await client.post(f"{T}/quick", json={"text": "seeds #garden", "project": projects["Shopping"]},
                              headers=alice.headers)
    inbox = await client.post(f"{T}/quick", json={"text": "call mum"}, headers=alice.headers)
    assert [(r.status_code, r.json()["project_id"], r.json()["tags"]) for r in (plain, named, inbox)] == [
        (201, projects["Shopping"], ["food"]), (201, projects["Garden"], []), (201, projects["Inbox"], [])]

    unknown = await client.post(f"{T}/quick", json={"text": "x", "project": "Nowhere"}, headers=alice.headers)
    assert "Nowhere" in str(assert_problem(unknown, 404, "project")["detail"])
    theirs = (await list_projects(uow, Actor(id=bob.id, timezone="UTC")))[0].id  # bob's Inbox
    assert_problem(await client.post(f"{T}/quick", json={"text": "x", "project": theirs}, headers=alice.headers),
                   404, "project")
    assert (await client.get(T, headers=alice.headers)).json()["count"] == 3  # nothing half-made


async def test_quick_add_honours_the_idempotency_key(client, alice):
    first = await client.post(f"{T}/quick", json={"text": "buy milk tomorrow"},
                              headers={**alice.headers, "Idempotency-Key": "quick-1"})
    again = await client.post(f"{T}/quick", json={"text": "buy milk tomorrow"},
                              headers={**alice.headers, "Idempotency-Key": "quick-1"})
    assert again.json() == first.json()
    other = await client.post(f"{T}/quick", json={"text": "buy bread tomorrow"},
                              headers={**alice.headers, "Idempotency-Key": "quick-1"})
    assert_problem(other, 409, "idempotency_key")
    assert (await client.get(T, headers=alice.headers)).json()["count"] == 1


async def test_the_preview_answers_the_page_s_contract_and_saves_nothing(client, alice):
    response = await client.post(f"{T}/quick/preview", json={"text": EXAMPLE}, headers=alice.headers)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert set(preview) == PREVIEW_KEYS
    assert (preview["title"], preview["due_at"], preview["due_date"], preview["all_day"]) == (
        "buy stamps", "2026-12-04T09:00:00+01:00", "2026-12-04", False)
    assert (preview["due_local"], preview["priority"], preview["tags"]) == (
        "2026-12-04 09:00 Fri", "urgent", ["errands"])
    assert preview["recurrence"] == {"rule": "every week", "next": [
        "2026-12-04T09:00:00+01:00", "2026-12-11T09:00:00+01:00", "2026-12-18T09:00:00+01:00"]}
    assert preview["chips"] == [
        {"kind": "due", "text": "tomorrow at 9am", "value": "2026-12-04 09:00 Fri"},
        {"kind": "priority", "text": "p1", "value": "urgent"},
        {"kind": "tag", "text": "#errands", "value": "errands"},
        {"kind": "recurrence", "text": "every week", "value": "every week"},
    ]
    assert (await client.get(T, headers=alice.headers)).json()["count"] == 0


async def test_the_preview_of_a_plain_title_has_no_due_and_no_recurrence(client, alice):
    preview = (await client.post(f"{T}/quick/preview", json={"text": "call mom about monday's meeting"},
                                 headers=alice.headers)).json()
    assert preview == {"title": "call mom about monday's meeting", "due_at": None, "due_date": None,
                       "all_day": False, "due_local": None, "priority": "none", "tags": [], "project": None,
                       "recurrence": None, "chips": []}


@pytest.mark.parametrize("path", ["/quick", "/quick/preview"])
@pytest.mark.parametrize(("body", "detail"), [
    ({"text": "#only #tags"}, "nothing is left for the title"),
    ({"text": "  "}, "quick-add text is empty"),
    ({"text": "x p1 p2"}, "two priorities"),
    ({"text": "x" * 1001}, "1000"),
    ({}, "text"),
    ({"text": 5}, "text"),
])
async def test_a_text_it_cannot_use_is_a_problem_naming_text(client, alice, path, body, detail):
    body_ = assert_problem(await client.post(f"{T}{path}", json=body, headers=alice.headers), 422, "text")
    assert detail in str(body_["detail"])
    assert (await client.get(T, headers=alice.headers)).json()["count"] == 0


async def test_quick_add_needs_a_signed_in_user(client):
    assert_problem(await client.post(f"{T}/quick", json={"text": "x"}), 401)
    assert_problem(await client.post(f"{T}/quick/preview", json={"text": "x"}), 401)
