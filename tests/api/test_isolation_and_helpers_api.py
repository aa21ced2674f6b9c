"""Another user's ids answer 404 on every route; tags, recurrence preview, undo and now over HTTP."""

from __future__ import annotations

import pytest

from tests.api.conftest import assert_problem

T = "/api/v1/tasks"

ROUTES_WITH_A_TASK_ID = [
    ("GET", "{t}", None),
    ("PATCH", "{t}", {"title": "mine now"}),
    ("DELETE", "{t}", None),
    ("POST", "{t}/complete", None),
    ("POST", "{t}/reopen", None),
    ("POST", "{t}/restore", None),
    ("POST", "bulk", {"action": "complete", "ids": ["{id}"]}),
    ("POST", "bulk", {"action": "delete", "ids": ["{id}"]}),
    ("POST", "bulk", {"action": "set_priority", "ids": ["{id}"], "priority": "low"}),
    ("POST", "bulk", {"action": "add_tags", "ids": ["{id}"], "tags": ["x"]}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES_WITH_A_TASK_ID)
async def test_another_users_task_answers_404_never_403_and_stays_unchanged(client, alice, bob, method, path, body):
    task = (await client.post(T, json={"title": "Alice's", "tags": ["private"]}, headers=alice.headers)).json()
    if body is not None and "ids" in body:
        body = {**body, "ids": [task["id"]]}
    r = await client.request(method, f"{T}/{path.format(t=task['id'])}", json=body, headers=bob.headers)
    assert_problem(r, 404)
    after = (await client.get(f"{T}/{task['id']}", headers=alice.headers)).json()
    assert after == task


async def test_other_users_tags_tokens_and_tasks_are_invisible(client, alice, bob):
    await client.post(T, json={"title": "Alice's", "tags": ["secret"]}, headers=alice.headers)
    token = (await client.post("/api/v1/tokens", json={"name": "a"}, headers=alice.headers)).json()
    assert (await client.get("/api/v1/tags", headers=bob.headers)).json() == []
    assert (await client.get(T, headers=bob.headers)).json()["count"] == 0
    assert_problem(await client.patch("/api/v1/tags/secret", json={"name": "mine"}, headers=bob.headers), 404)
    assert_problem(await client.delete("/api/v1/tags/secret", headers=bob.headers), 404)
    assert_problem(await client.delete(f"/api/v1/tokens/{token['id']}", headers=bob.headers), 404)
    assert_problem(await client.post("/api/v1/undo", headers=bob.headers), 409)
    tags = (await client.get("/api/v1/tags", headers=alice.headers)).json()
    assert tags == [{"name": "secret", "count": 1}]


async def test_tags_list_with_counts_rename_merges_and_delete_untags(client, alice):
    for tags in (["home"], ["home", "garden"], ["garden"]):
        await client.post(T, json={"title": "t", "tags": tags}, headers=alice.headers)
    r = await client.patch("/api/v1/tags/garden", json={"name": "Home"}, headers=alice.headers)
    assert r.json() == {"name": "home", "count": 3}
    r = await client.delete("/api/v1/tags/home", headers=alice.headers)
    assert r.json() == {"name": "home", "tasks": 3}
    assert (await client.get("/api/v1/tags", headers=alice.headers)).json() == []
    assert_problem(await client.patch("/api/v1/tags/x", json={"name": "y" * 51}, headers=alice.headers), 422)


async def test_recurrence_preview_lists_occurrences_in_the_users_timezone_and_saves_nothing(client, alice):
    r = await client.get("/api/v1/recurrence/preview",
                         params={"rule": "every monday at 09:00", "count": 3, "start": "2026-03-20T00:00"},
                         headers=alice.headers)
    body = r.json()
    assert r.status_code == 200 and body["timezone"] == "Europe/Berlin"
    assert body["occurrences"] == ["2026-03-23T09:00:00+01:00", "2026-03-30T09:00:00+02:00",
                                   "2026-04-06T09:00:00+02:00"]
    assert (await client.get(T, headers=alice.headers)).json()["count"] == 0
    assert_problem(await client.get("/api/v1/recurrence/preview", params={"rule": "every blursday"},
                                    headers=alice.headers), 422, "rule")
    assert_problem(await client.get("/api/v1/recurrence/preview", params={"rule": "daily", "count": 0},
                                    headers=alice.headers), 422, "count")


async def test_undo_reverts_the_latest_change(client, alice):
    task = (await client.post(T, json={"title": "Before"}, headers=alice.headers)).json()
    await client.patch(f"{T}/{task['id']}", json={"title": "After"}, headers=alice.headers)
    r = await client.post("/api/v1/undo", headers=alice.headers)
    assert r.status_code == 200 and r.json()["tasks"][0]["title"] == "Before"


async def test_now_gives_the_users_local_date_and_time(client, alice):
    body = (await client.get("/api/v1/now", headers=alice.headers)).json()
    assert body["timezone"] == "Europe/Berlin" and body["local"].endswith(("+01:00", "+02:00"))
