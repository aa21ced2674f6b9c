"""Projects and subtasks over HTTP, on SQLite and PostgreSQL: /api/v1/projects, the project and subtask fields of
tasks, /move, the list filters and completing a parent; every refusal is problem+json naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import User, assert_problem

P = "/api/v1/projects"
T = "/api/v1/tasks"
UNKNOWN = 999_999_999  # a valid id nothing has
TASK_FIELDS = {"project_id", "parent_id", "subtask_count", "open_subtask_count", "subtasks"}
PROJECT_FIELDS = {"id", "name", "colour", "is_inbox", "archived", "archived_at", "open_count", "created_at",
                  "updated_at", "version"}


async def _project(client: httpx.AsyncClient, user: User, name: str, **body: Any) -> dict[str, Any]:
    r = await client.post(P, json={"name": name, **body}, headers=user.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _task(client: httpx.AsyncClient, user: User, title: str = "Task", **body: Any) -> dict[str, Any]:
    r = await client.post(T, json={"title": title, **body}, headers=user.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _projects(client: httpx.AsyncClient, user: User, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(P, params=params, headers=user.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def _inbox(client: httpx.AsyncClient, user: User) -> dict[str, Any]:
    (inbox,) = [p for p in await _projects(client, user) if p["is_inbox"]]
    return inbox


async def _titles(client: httpx.AsyncClient, user: User, params: Any) -> list[str]:
    r = await client.get(T, params=params, headers=user.headers)
    assert r.status_code == 200, r.text
    return sorted(t["title"] for t in r.json()["data"])


# --- /api/v1/projects -------------------------------------------------------------------------------------------


async def test_a_new_user_has_only_the_inbox_and_new_projects_list_after_it_by_name(client, alice):
    assert [p["name"] for p in await _projects(client, alice)] == ["Inbox"]
    work = await _project(client, alice, "work", colour="#3B82F6")
    await _project(client, alice, "Errands")
    assert set(work) == PROJECT_FIELDS
    assert (work["colour"], work["is_inbox"], work["archived"], work["open_count"], work["version"]) == (
        "#3b82f6", False, False, 0, 1)
    assert [p["name"] for p in await _projects(client, alice)] == ["Inbox", "Errands", "work"]


async def test_open_counts_count_open_tasks_outside_the_trash(client, alice):
    shop = await _project(client, alice, "Shopping")
    await _task(client, alice, "Milk", project="Shopping")
    done = await _task(client, alice, "Bread", project=shop["id"])
    trashed = await _task(client, alice, "Eggs", project=shop["id"])
    await client.post(f"{T}/{done['id']}/complete", headers=alice.headers)
    await client.delete(f"{T}/{trashed['id']}", headers=alice.headers)
    assert (await client.get(f"{P}/{shop['id']}", headers=alice.headers)).json()["open_count"] == 1


@pytest.mark.parametrize(("body", "status", "field", "code"), [
    ({"name": "shopping "}, 409, "name", "project_name_taken"),
    ({"name": "   "}, 422, "name", "invalid_input"),
    ({"name": "x" * 101}, 422, "name", "invalid_input"),
    ({"name": "Red", "colour": "red"}, 422, "colour", "invalid_input"),
    ({"name": "Red", "colour": "#f00"}, 422, "colour", "invalid_input"),
    ({"name": "Red", "archived": True}, 422, "archived", "validation_error"),
    ({}, 422, "name", "validation_error"),
], ids=["duplicate-any-case", "blank", "101-chars", "colour-word", "colour-short", "unknown-field", "no-name"])
async def test_a_bad_new_project_is_refused_naming_the_field(client, alice, body, status, field, code):
    await _project(client, alice, "Shopping")
    problem = assert_problem(await client.post(P, json=body, headers=alice.headers), status, field)
    assert str(problem["type"]).endswith(f"/{code}")
    assert [p["name"] for p in await _projects(client, alice)] == ["Inbox", "Shopping"]


async def test_the_colour_error_shows_the_form_it_wants(client, alice):
    problem = assert_problem(await client.post(P, json={"name": "x", "colour": "#f00"}, headers=alice.headers), 422)
    assert "#rrggbb" in str(problem["detail"]) and "'#f00'" in str(problem["detail"])


async def test_patch_renames_recolours_and_clears_the_colour_bumping_the_version(client, alice):
    shop = await _project(client, alice, "Shopping", colour="#22c55e")
    url = f"{P}/{shop['id']}"
    renamed = (await client.patch(url, json={"name": "Groceries", "version": 1}, headers=alice.headers)).json()
    assert (renamed["name"], renamed["colour"], renamed["version"]) == ("Groceries", "#22c55e", 2)
    cleared = (await client.patch(url, json={"colour": None}, headers=alice.headers)).json()
    assert (cleared["name"], cleared["colour"], cleared["version"]) == ("Groceries", None, 3)
    assert (await client.get(url, headers=alice.headers)).json() == cleared


async def test_patch_refuses_a_stale_version_a_taken_name_and_renaming_the_inbox(client, alice):
    shop = await _project(client, alice, "Shopping")
    await _project(client, alice, "Work")
    url = f"{P}/{shop['id']}"
    await client.patch(url, json={"colour": "#000000"}, headers=alice.headers)
    assert_problem(await client.patch(url, json={"name": "Mine", "version": 1}, headers=alice.headers), 409, "version")
    assert_problem(await client.patch(url, json={"name": "WORK"}, headers=alice.headers), 409, "name")
    inbox = await _inbox(client, alice)
    problem = assert_problem(await client.patch(f"{P}/{inbox['id']}", json={"name": "Later"}, headers=alice.headers),
                             422, "project")
    assert str(problem["type"]).endswith("/inbox_protected")
    recoloured = await client.patch(f"{P}/{inbox['id']}", json={"colour": "#ffffff"}, headers=alice.headers)
    assert recoloured.status_code == 200 and recoloured.json()["name"] == "Inbox"
    assert (await client.get(url, headers=alice.headers)).json()["name"] == "Shopping"


async def test_another_users_project_and_an_unknown_one_answer_404_on_every_route(client, alice, bob):
    theirs = await _project(client, bob, "Secret")
    for project_id in (theirs["id"], UNKNOWN):
        url = f"{P}/{project_id}"
        assert_problem(await client.get(url, headers=alice.headers), 404, "project")
        assert_problem(await client.patch(url, json={"name": "Mine"}, headers=alice.headers), 404, "project")
        assert_problem(await client.post(f"{url}/archive", headers=alice.headers), 404, "project")
        assert_problem(await client.post(f"{url}/unarchive", headers=alice.headers), 404, "project")
        assert_problem(await client.delete(url, headers=alice.headers), 404, "project")
        assert_problem(await client.post(T, json={"title": "x", "project": project_id}, headers=alice.headers),
                       404, "project")
        assert_problem(await client.get(T, params={"project": project_id}, headers=alice.headers), 404, "project")
    assert_problem(await client.post(T, json={"title": "x", "project": "Secret"}, headers=alice.headers), 404,
                   "project")
    assert (await client.get(f"{P}/{theirs['id']}", headers=bob.headers)).json()["name"] == "Secret"


async def test_an_archived_project_leaves_the_list_and_takes_no_new_or_moved_tasks_until_unarchived(client, alice):
    trip = await _project(client, alice, "Trip")
    kept = await _task(client, alice, "Pack", project="Trip")
    loose = await _task(client, alice, "Loose")
    archived = (await client.post(f"{P}/{trip['id']}/archive", json={"version": 1}, headers=alice.headers)).json()
    assert archived["archived"] is True and archived["archived_at"] and archived["version"] == 2
    assert [p["name"] for p in await _projects(client, alice)] == ["Inbox"]
    assert [p["name"] for p in await _projects(client, alice, include_archived="true")] == ["Inbox", "Trip"]
    problem = assert_problem(await client.post(T, json={"title": "x", "project": "trip"}, headers=alice.headers),
                             409, "project")
    assert "unarchive" in str(problem["detail"])
    assert_problem(await client.post(f"{T}/{loose['id']}/move", json={"project": trip["id"]}, headers=alice.headers),
                   409, "project")
    assert (await client.get(f"{T}/{kept['id']}", headers=alice.headers)).json()["project_id"] == trip["id"]
    back = (await client.post(f"{P}/{trip['id']}/unarchive", headers=alice.headers)).json()
    assert back["archived"] is False and back["archived_at"] is None
    assert (await client.post(f"{T}/{loose['id']}/move", json={"project": "Trip"}, headers=alice.headers)
            ).json()["project_id"] == trip["id"]


async def test_the_inbox_cannot_be_archived_or_deleted(client, alice):
    inbox = await _inbox(client, alice)
    assert_problem(await client.post(f"{P}/{inbox['id']}/archive", headers=alice.headers), 422, "project")
    assert_problem(await client.delete(f"{P}/{inbox['id']}", headers=alice.headers), 422, "project")
    assert await _inbox(client, alice) == inbox


async def test_archiving_with_a_stale_version_is_refused(client, alice):
    trip = await _project(client, alice, "Trip")
    await client.patch(f"{P}/{trip['id']}", json={"colour": "#123456"}, headers=alice.headers)
    assert_problem(await client.post(f"{P}/{trip['id']}/archive", json={"version": 1}, headers=alice.headers), 409,
                   "version")
    assert_problem(await client.request("DELETE", f"{P}/{trip['id']}", json={"version": 1}, headers=alice.headers),
                   409, "version")
    assert (await client.get(f"{P}/{trip['id']}", headers=alice.headers)).json()["archived"] is False


async def test_deleting_a_project_moves_its_tasks_to_the_inbox_and_undo_puts_them_back(client, alice):
    trip = await _project(client, alice, "Trip")
    parent = await _task(client, alice, "Plan trip", project="Trip")
    step = await _task(client, alice, "Book flights", parent_id=parent["id"])
    r = await client.delete(f"{P}/{trip['id']}", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["moved"], r.json()["trashed"], r.json()["project"]["name"]) == (2, 0, "Trip")
    inbox = await _inbox(client, alice)
    moved = (await client.get(f"{T}/{step['id']}", headers=alice.headers)).json()
    assert (moved["project_id"], moved["parent_id"]) == (inbox["id"], parent["id"])  # the subtask keeps its parent
    assert_problem(await client.get(f"{P}/{trip['id']}", headers=alice.headers), 404, "project")
    undone = await client.post("/api/v1/undo", headers=alice.headers)
    assert undone.status_code == 200, undone.text
    assert [p["name"] for p in undone.json()["projects"]] == ["Trip"]
    for task in (parent, step):
        assert (await client.get(f"{T}/{task['id']}", headers=alice.headers)).json()["project_id"] == trip["id"]
    assert (await client.get(f"{P}/{trip['id']}", headers=alice.headers)).json()["open_count"] == 2


async def test_deleting_a_project_with_tasks_trash_trashes_them_and_a_bad_choice_is_refused(client, alice):
    trip = await _project(client, alice, "Trip")
    await _task(client, alice, "Pack", project="Trip")
    await _task(client, alice, "Visa", project="Trip")
    bad = await client.delete(f"{P}/{trip['id']}", params={"tasks": "nowhere"}, headers=alice.headers)
    assert_problem(bad, 422, "tasks")
    r = await client.delete(f"{P}/{trip['id']}", params={"tasks": "trash"}, headers=alice.headers)
    assert (r.json()["moved"], r.json()["trashed"]) == (0, 2)
    assert await _titles(client, alice, {"status": "deleted"}) == ["Pack", "Visa"]
    assert await _titles(client, alice, {}) == []


# --- tasks in projects and under parents ------------------------------------------------------------------------


async def test_every_task_carries_its_project_parent_and_subtask_counts_and_get_lists_the_subtasks(client, alice):
    inbox = await _inbox(client, alice)
    parent = await _task(client, alice, "Plan trip")
    assert TASK_FIELDS <= set(parent)
    assert (parent["project_id"], parent["parent_id"], parent["subtask_count"]) == (inbox["id"], None, 0)
    first = await _task(client, alice, "Book flights", parent_id=parent["id"])
    second = await _task(client, alice, "Book hotel", parent_id=parent["id"])
    await client.post(f"{T}/{second['id']}/complete", headers=alice.headers)
    got = (await client.get(f"{T}/{parent['id']}", headers=alice.headers)).json()
    assert (got["subtask_count"], got["open_subtask_count"]) == (2, 1)
    assert [(s["id"], s["title"], s["status"]) for s in got["subtasks"]] == [
        (first["id"], "Book flights", "open"), (second["id"], "Book hotel", "completed")]
    listed = (await client.get(T, headers=alice.headers)).json()["data"]
    assert all(TASK_FIELDS <= set(t) and t["subtasks"] is None for t in listed)
    assert {t["id"]: t["open_subtask_count"] for t in listed}[parent["id"]] == 1


async def test_a_subtask_goes_into_its_parents_project(client, alice):
    trip = await _project(client, alice, "Trip")
    parent = await _task(client, alice, "Plan trip", project=trip["id"])
    step = await _task(client, alice, "Pack", parent_id=parent["id"])
    assert (step["project_id"], step["parent_id"]) == (trip["id"], parent["id"])
    both = await _task(client, alice, "Visa", parent_id=parent["id"], project="trip")
    assert both["project_id"] == trip["id"]


async def test_the_list_filters_by_projects_by_name_or_id_by_parent_and_by_level(client, alice):
    home, work = await _project(client, alice, "Home"), await _project(client, alice, "Work")
    parent = await _task(client, alice, "Clean", project="Home")
    await _task(client, alice, "Kitchen", parent_id=parent["id"])
    await _task(client, alice, "Report", project=work["id"])
    await _task(client, alice, "Loose")
    assert await _titles(client, alice, {"project": "home"}) == ["Clean", "Kitchen"]
    assert await _titles(client, alice, {"project": str(home["id"])}) == ["Clean", "Kitchen"]
    assert await _titles(client, alice, [("project", "Home"), ("project", str(work["id"]))]) == [
        "Clean", "Kitchen", "Report"]
    assert await _titles(client, alice, {"parent_id": parent["id"]}) == ["Kitchen"]
    assert await _titles(client, alice, {"top_level": "true"}) == ["Clean", "Loose", "Report"]
    assert await _titles(client, alice, {"top_level": "false", "project": "Home"}) == ["Kitchen"]
    assert await _titles(client, alice, {"project": "Inbox", "q": "loose"}) == ["Loose"]


async def test_an_unknown_project_in_the_filter_is_404_and_too_many_projects_422(client, alice):
    problem = assert_problem(await client.get(T, params={"project": "Nowhere"}, headers=alice.headers), 404,
                             "project")
    assert "list_projects" in str(problem["detail"])
    assert_problem(await client.get(T, params=[("project", f"p{i}") for i in range(21)], headers=alice.headers), 422,
                   "project")


@pytest.mark.parametrize("parent", ["unknown", "theirs", "trashed"])
async def test_a_parent_that_is_not_one_of_your_live_tasks_is_refused(client, alice, bob, parent):
    ids = {"unknown": UNKNOWN, "theirs": (await _task(client, bob, "Bob's"))["id"]}
    if parent == "trashed":
        ids["trashed"] = (await _task(client, alice, "Gone"))["id"]
        await client.delete(f"{T}/{ids['trashed']}", headers=alice.headers)
    r = await client.post(T, json={"title": "x", "parent_id": ids[parent]}, headers=alice.headers)
    assert "not found" in str(assert_problem(r, 422, "parent_id")["detail"])
    assert await _titles(client, alice, {}) == []


async def test_a_parent_in_another_project_than_the_one_named_is_refused(client, alice):
    await _project(client, alice, "Work")
    parent = await _task(client, alice, "Inbox parent")
    r = await client.post(T, json={"title": "x", "parent_id": parent["id"], "project": "Work"}, headers=alice.headers)
    assert_problem(r, 422, "parent_id")


async def test_a_fourth_level_is_refused_when_created_and_when_moved(client, alice):
    one = await _task(client, alice, "1")
    two = await _task(client, alice, "2", parent_id=one["id"])
    three = await _task(client, alice, "3", parent_id=two["id"])
    problem = assert_problem(await client.post(T, json={"title": "4", "parent_id": three["id"]},
                                               headers=alice.headers), 422, "parent_id")
    assert "3 levels" in str(problem["detail"])
    other = await _task(client, alice, "other")
    await _task(client, alice, "other's child", parent_id=other["id"])
    r = await client.post(f"{T}/{other['id']}/move", json={"parent_id": two["id"]}, headers=alice.headers)
    assert_problem(r, 422, "parent_id")
    assert (await client.get(f"{T}/{other['id']}", headers=alice.headers)).json()["parent_id"] is None


async def test_moving_a_task_under_itself_or_its_subtask_is_a_cycle(client, alice):
    top = await _task(client, alice, "top")
    child = await _task(client, alice, "child", parent_id=top["id"])
    for target in (top["id"], child["id"]):
        r = await client.post(f"{T}/{top['id']}/move", json={"parent_id": target}, headers=alice.headers)
        assert "cycle" in str(assert_problem(r, 422, "parent_id")["detail"])
    assert (await client.get(f"{T}/{top['id']}", headers=alice.headers)).json()["parent_id"] is None


async def test_move_takes_the_subtree_to_a_project_under_a_parent_and_back_to_the_top(client, alice):
    work = await _project(client, alice, "Work")
    parent = await _task(client, alice, "Report")
    child = await _task(client, alice, "Draft", parent_id=parent["id"])
    moved = (await client.post(f"{T}/{parent['id']}/move", json={"project": "Work", "version": 1},
                               headers=alice.headers)).json()
    assert (moved["project_id"], moved["version"]) == (work["id"], 2)
    assert (await client.get(f"{T}/{child['id']}", headers=alice.headers)).json()["project_id"] == work["id"]
    host = await _task(client, alice, "Quarter", project="Work")
    under = (await client.post(f"{T}/{parent['id']}/move", json={"parent_id": host["id"]},
                               headers=alice.headers)).json()
    assert under["parent_id"] == host["id"]
    top = (await client.post(f"{T}/{parent['id']}/move", json={"parent_id": None}, headers=alice.headers)).json()
    assert (top["parent_id"], top["project_id"]) == (None, work["id"])


async def test_move_refuses_a_stale_version_an_unknown_field_and_another_users_task(client, alice, bob):
    task = await _task(client, alice, "Mine")
    await client.patch(f"{T}/{task['id']}", json={"title": "Mine!"}, headers=alice.headers)
    assert_problem(await client.post(f"{T}/{task['id']}/move", json={"project": "Inbox", "version": 1},
                                     headers=alice.headers), 409, "version")
    assert_problem(await client.post(f"{T}/{task['id']}/move", json={"folder": "x"}, headers=alice.headers), 422,
                   "folder")
    assert_problem(await client.post(f"{T}/{task['id']}/move", json={"project": "Inbox"}, headers=bob.headers), 404)
    nowhere = assert_problem(await client.post(f"{T}/{task['id']}/move", json={"version": 2}, headers=alice.headers),
                             422, "body")
    assert "must say where to" in str(nowhere["detail"])


async def test_patch_moves_a_task_like_move_and_null_parent_makes_it_top_level(client, alice):
    home = await _project(client, alice, "Home")
    parent = await _task(client, alice, "Clean", project="Home")
    task = await _task(client, alice, "Kitchen")
    under = (await client.patch(f"{T}/{task['id']}", json={"parent_id": parent["id"], "title": "Kitchen floor"},
                                headers=alice.headers)).json()
    assert (under["title"], under["parent_id"], under["project_id"]) == ("Kitchen floor", parent["id"], home["id"])
    top = (await client.patch(f"{T}/{task['id']}", json={"parent_id": None}, headers=alice.headers)).json()
    assert (top["parent_id"], top["project_id"]) == (None, home["id"])


async def test_completing_a_parent_with_open_subtasks_needs_subtasks_complete(client, alice):
    parent = await _task(client, alice, "Plan trip")
    child = await _task(client, alice, "Book flights", parent_id=parent["id"])
    problem = assert_problem(await client.post(f"{T}/{parent['id']}/complete", headers=alice.headers), 409,
                             "subtasks")
    assert str(problem["type"]).endswith("/open_subtasks") and "subtasks='complete'" in str(problem["detail"])
    assert (await client.get(f"{T}/{parent['id']}", headers=alice.headers)).json()["status"] == "open"
    assert_problem(await client.post(f"{T}/{parent['id']}/complete", json={"subtasks": "maybe"},
                                     headers=alice.headers), 422, "subtasks")
    done = await client.post(f"{T}/{parent['id']}/complete", json={"subtasks": "complete", "version": 1},
                             headers=alice.headers)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert (await client.get(f"{T}/{child['id']}", headers=alice.headers)).json()["status"] == "completed"


async def test_bulk_complete_refuses_a_parent_alone_but_not_with_its_subtasks_or_subtasks_complete(client, alice):
    parent = await _task(client, alice, "Parent")
    child = await _task(client, alice, "Child", parent_id=parent["id"])
    other = await _task(client, alice, "Other")
    other_child = await _task(client, alice, "Other's child", parent_id=other["id"])
    bulk = f"{T}/bulk"
    assert_problem(await client.post(bulk, json={"action": "complete", "ids": [parent["id"]]},
                                     headers=alice.headers), 409, "subtasks")
    r = await client.post(bulk, json={"action": "complete", "ids": [parent["id"], child["id"]]},
                          headers=alice.headers)
    assert r.status_code == 200 and r.json()["count"] == 2
    r = await client.post(bulk, json={"action": "complete", "ids": [other["id"]], "subtasks": "complete"},
                          headers=alice.headers)
    assert r.status_code == 200
    assert (await client.get(f"{T}/{other_child['id']}", headers=alice.headers)).json()["status"] == "completed"


async def test_deleting_a_parent_trashes_its_subtasks_and_restoring_it_brings_them_back(client, alice):
    parent = await _task(client, alice, "Parent")
    child = await _task(client, alice, "Child", parent_id=parent["id"])
    await client.delete(f"{T}/{parent['id']}", headers=alice.headers)
    assert_problem(await client.get(f"{T}/{child['id']}", headers=alice.headers), 404)
    assert_problem(await client.post(f"{T}/{child['id']}/restore", headers=alice.headers), 422)
    assert (await client.post(f"{T}/{parent['id']}/restore", headers=alice.headers)).status_code == 200
    assert (await client.get(f"{T}/{child['id']}", headers=alice.headers)).json()["parent_id"] == parent["id"]


async def test_quick_add_puts_a_hash_project_name_in_that_project_and_keeps_other_hashes_as_tags(client, alice):
    trip = await _project(client, alice, "Trip")
    r = await client.post(f"{T}/quick", json={"text": "pack bags #trip #urgent"}, headers=alice.headers)
    assert r.status_code == 201, r.text
    assert (r.json()["project_id"], r.json()["tags"]) == (trip["id"], ["urgent"])


async def test_the_openapi_document_describes_the_project_routes_and_the_move(client):
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert {f"{P}", f"{P}/{{project_id}}", f"{P}/{{project_id}}/archive", f"{P}/{{project_id}}/unarchive",
            f"{T}/{{task_id}}/move"} <= set(paths)
    assert set(paths[f"{P}/{{project_id}}"]) == {"get", "patch", "delete"}
    for path, method in ((P, "post"), (f"{P}/{{project_id}}", "delete"), (f"{T}/{{task_id}}/move", "post")):
        operation = paths[path][method]
        assert operation["description"] or operation["summary"]
        assert {"401", "404", "422"} <= set(operation["responses"]) or path == P, (path, method)
    assert "examples" in paths[P]["post"]["requestBody"]["content"]["application/json"]
    listing = {p["name"] for p in paths[T]["get"]["parameters"]}
    assert {"project", "parent_id", "top_level"} <= listing
