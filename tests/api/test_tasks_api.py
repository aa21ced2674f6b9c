"""The task routes over HTTP: happy paths, bad input as problem+json, versions, idempotency, the trash."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_problem

T = "/api/v1/tasks"


async def _create(client, user, **body):
    body.setdefault("title", "Task")
    r = await client.post(T, json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_creating_a_task_returns_201_and_every_field_of_the_task_json(client, alice):
    task = await _create(client, alice, title="Dentist", description="bring card", priority="high",
                         tags=["Health"], due_at="2026-12-01T09:30", reminders=[30],
                         recurrence={"rule": "yearly", "mode": "due"})
    assert set(task) == {"id", "title", "description", "status", "priority", "tags", "due_at", "due_date", "all_day",
                         "due_local", "reminders", "recurrence", "series_id", "predecessor_id", "created_at",
                         "updated_at", "completed_at", "deleted_at", "version", "project_id", "parent_id",
                         "subtask_count", "open_subtask_count", "subtasks"}
    assert task["due_at"] == "2026-12-01T09:30:00+01:00"  # alice is in Europe/Berlin: input without offset is hers
    assert task["due_date"] == "2026-12-01" and task["all_day"] is False and task["tags"] == ["health"]
    assert task["recurrence"] == {"rule": "yearly", "mode": "due", "until": None, "count": None}
    assert task["series_id"] == task["id"]


async def test_a_plain_date_makes_an_all_day_task_with_no_moment(client, alice):
    task = await _create(client, alice, due_at="2026-12-04")
    assert task["all_day"] is True and task["due_at"] is None and task["due_date"] == "2026-12-04"


async def test_get_patch_and_the_actions_change_the_task_and_bump_its_version(client, alice):
    task = await _create(client, alice, title="Write report", tags=["work"], reminders=[60])
    url = f"{T}/{task['id']}"
    r = await client.patch(url, json={"title": "Write the report", "version": 1}, headers=alice.headers)
    assert r.status_code == 200 and r.json()["version"] == 2
    assert r.json()["tags"] == ["work"] and r.json()["reminders"] == [60]
    r = await client.post(f"{url}/complete", json={"version": 2}, headers=alice.headers)
    assert r.json()["status"] == "completed" and r.json()["completed_at"]
    r = await client.post(f"{url}/reopen", headers=alice.headers)
    assert r.json()["status"] == "open" and r.json()["completed_at"] is None
    assert (await client.get(url, headers=alice.headers)).json()["version"] == 4


async def test_a_deleted_task_answers_404_until_restored(client, alice):
    task = await _create(client, alice)
    url = f"{T}/{task['id']}"
    assert (await client.delete(url, headers=alice.headers)).json()["deleted_at"]
    assert_problem(await client.get(url, headers=alice.headers), 404, "id")
    assert_problem(await client.patch(url, json={"title": "x"}, headers=alice.headers), 404)
    assert_problem(await client.post(f"{url}/complete", headers=alice.headers), 404)
    trash = (await client.get(T, params={"status": "deleted"}, headers=alice.headers)).json()
    assert [t["id"] for t in trash["data"]] == [task["id"]]
    assert (await client.post(f"{url}/restore", headers=alice.headers)).json()["deleted_at"] is None
    assert (await client.get(url, headers=alice.headers)).status_code == 200


async def test_a_stale_version_answers_409_and_changes_nothing(client, alice):
    task = await _create(client, alice, title="Original")
    url = f"{T}/{task['id']}"
    await client.patch(url, json={"title": "Changed"}, headers=alice.headers)
    assert_problem(await client.patch(url, json={"title": "Mine", "version": 1}, headers=alice.headers), 409, "version")
    assert_problem(await client.post(f"{url}/complete", json={"version": 1}, headers=alice.headers), 409)
    assert_problem(await client.request("DELETE", url, json={"version": 1}, headers=alice.headers), 409)
    assert (await client.get(url, headers=alice.headers)).json()["title"] == "Changed"


async def test_the_same_idempotency_key_returns_the_first_task_and_another_body_is_refused(client, alice):
    headers = {**alice.headers, "Idempotency-Key": "k-1"}
    first = await client.post(T, json={"title": "Once"}, headers=headers)
    again = await client.post(T, json={"title": "Once"}, headers=headers)
    assert first.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert_problem(await client.post(T, json={"title": "Other"}, headers=headers), 409, "idempotency_key")
    listed = await client.get(T, params={"q": "once"}, headers=alice.headers)
    assert listed.json()["count"] == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 501}, "title"),
    ({"title": "ok", "description": "d" * 10_001}, "description"),
    ({"title": "ok", "priority": "critical"}, "priority"),
    ({"title": "ok", "tags": [f"t{i}" for i in range(21)]}, "tags"),
    ({"title": "ok", "tags": ["x" * 51]}, "tags"),
    ({"title": "ok", "due_at": "next tuesday-ish"}, "due_at"),
    ({"title": "ok", "recurrence": {"rule": "0 9 * *"}}, "rule"),
    ({"title": "ok", "recurrence": {"rule": "FREQ=FORTNIGHTLY"}}, "rule"),
    ({"title": "ok", "recurrence": {"rule": "every blursday"}}, "rule"),
    ({"title": "ok", "reminders": [-5]}, "reminders"),
    ({"title": "ok", "colour": "red"}, "colour"),
    ({}, "title"),
])
async def test_bad_input_answers_422_problem_json_naming_the_field(client, alice, body, field):
    problem = assert_problem(await client.post(T, json=body, headers=alice.headers), 422, field)
    assert problem["errors"] and problem["errors"][0]["rule"]


async def test_an_invalid_rule_says_what_is_wrong_and_shows_an_example(client, alice):
    problem = assert_problem(await client.post(T, json={"title": "x", "recurrence": {"rule": "every blursday"}},
                                               headers=alice.headers), 422, "rule")
    assert "e.g." in str(problem["detail"])


async def test_a_malformed_json_body_is_a_problem_not_a_crash(client, alice):
    r = await client.post(T, content=b"{not json", headers={**alice.headers, "Content-Type": "application/json"})
    assert_problem(r, 422)


async def test_list_filters_sorts_and_pages_with_a_total_count(client, alice):
    for i, (prio, tag) in enumerate([("high", "work"), ("low", "home"), ("high", "home"), ("urgent", "work")]):
        await _create(client, alice, title=f"Item {i}", priority=prio, tags=[tag], due_at=f"2026-12-0{i + 1}")
    params = {"priority": ["high", "urgent"], "tag": "work", "sort": "priority", "order": "desc"}
    page = (await client.get(T, params=params, headers=alice.headers)).json()
    assert [t["title"] for t in page["data"]] == ["Item 3", "Item 0"] and page["count"] == 2
    first = (await client.get(T, params={"limit": 3, "sort": "due"}, headers=alice.headers)).json()
    assert first["count"] == 4 and len(first["data"]) == 3 and first["next_cursor"]
    rest = (await client.get(T, params={"limit": 3, "sort": "due", "cursor": first["next_cursor"]},
                             headers=alice.headers)).json()
    assert [t["title"] for t in first["data"] + rest["data"]] == ["Item 0", "Item 1", "Item 2", "Item 3"]
    assert rest["next_cursor"] is None
    before = (await client.get(T, params={"due_before": "2026-12-03"}, headers=alice.headers)).json()
    assert before["count"] == 2


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"sort": "colour"}, "sort"), ({"order": "up"}, "order"),
    ({"status": "archived"}, "status"), ({"priority": "mega"}, "priority"), ({"cursor": "garbage"}, "cursor"),
    ({"due_before": "soon"}, "due_before"), ({"tag_mode": "some"}, "tag_mode"), ({"overdue": "maybe"}, "overdue"),
])
async def test_bad_list_parameters_answer_422_naming_the_parameter(client, alice, params, field):
    assert_problem(await client.get(T, params=params, headers=alice.headers), 422, field)


async def test_bulk_actions_change_all_tasks_or_none(client, alice, bob):
    ids = [(await _create(client, alice, title=f"B{i}"))["id"] for i in range(3)]
    r = await client.post(f"{T}/bulk", json={"action": "set_priority", "ids": ids, "priority": "high"},
                          headers=alice.headers)
    assert r.status_code == 200 and {t["priority"] for t in r.json()["data"]} == {"high"}
    foreign = (await _create(client, bob))["id"]
    assert_problem(await client.post(f"{T}/bulk", json={"action": "complete", "ids": [*ids, foreign]},
                                      headers=alice.headers), 404)
    statuses = {(await client.get(f"{T}/{i}", headers=alice.headers)).json()["status"] for i in ids}
    assert statuses == {"open"}
    r = await client.post(f"{T}/bulk", json={"action": "add_tags", "ids": ids, "tags": ["Q4"]}, headers=alice.headers)
    assert all(t["tags"] == ["q4"] for t in r.json()["data"])
    assert_problem(await client.post(f"{T}/bulk", json={"action": "complete", "ids": list(range(1, 52))},
                                     headers=alice.headers), 422, "ids")
    assert_problem(await client.post(f"{T}/bulk", json={"action": "complete", "ids": []}, headers=alice.headers),
                   422, "ids")
