"""The scorer is honest (issue 14, item 6): the same scenario replayed on deliberately wrong reference paths (a
wrong due, a missing tag, an extra delete, a duplicate task) fails, naming exactly the expectations that the
final database state, the recorded calls and the replies contradict; the right path passes. These run the real
agent and MCP server on a fresh SQLite database per trial (no mocks: the scripted model is the reference)."""

from __future__ import annotations

from typing import Any

import yaml

from evals.scenario import SCENARIOS
from tests.evals.conftest import Offline, base


def names(failures: list[dict[str, Any]]) -> list[str]:
    return [f["expectation"] for f in failures]


def with_steps(*steps: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """BASE with the one turn's reference replaced by `steps` (search first, as the right path does)."""
    search = {"tool_calls": [{"name": "search_tasks", "arguments": {"query": "milk"}}]}
    return base(reference=[[search, *steps]], **changes)


def move(**arguments: Any) -> dict[str, Any]:
    call = {"name": "update_task", "arguments": {"task_id": "{{results[-1].data[0].id}}", **arguments}}
    return {"tool_calls": [call]}


DONE = {"text": "Moved **Buy milk** to tomorrow at 09:00."}


async def test_the_right_path_passes(offline: Offline) -> None:
    assert await offline.failures(base()) == []
    assert await offline.failures(with_steps(move(due_at="2026-03-29T09:00"), DONE)) != []  # not set_due_date


async def test_a_wrong_due_fails_the_task_and_the_call(offline: Offline) -> None:
    data = with_steps({"tool_calls": [{"name": "set_due_date", "arguments": {
        "task_id": "{{results[-1].data[0].id}}", "due_at": "tomorrow 10am"}}]}, DONE)
    failures = await offline.failures(data)

    assert names(failures) == ["expect.tasks[0] (key milk)", "expect.calls[0]"]
    assert failures[0]["message"] == "due differ(s)"
    assert failures[0]["expected"]["due"] == "2026-03-29 09:00" and failures[0]["actual"]["due"] == "2026-03-29 10:00"
    diff = failures[0]["diff"]
    assert '-  "due": "2026-03-29 09:00"' in diff and '+  "due": "2026-03-29 10:00"' in diff


async def test_a_missing_tag_fails_the_task_only(offline: Offline) -> None:
    data = with_steps(move(due_at="tomorrow 9am", tags=[]), DONE)
    data["expect"]["calls"][0]["name"] = ["set_due_date", "update_task"]
    failures = await offline.failures(data)

    assert names(failures) == ["expect.tasks[0] (key milk)"]
    assert failures[0]["message"] == "tags differ(s)"
    assert failures[0]["expected"]["tags"] == ["errands"] and failures[0]["actual"]["tags"] == []


async def test_an_extra_delete_asked_for_fails_the_forbidden_call(offline: Offline) -> None:
    """The delete waits for approval, so nothing is trashed, but asking for it is what the scenario forbids; the
    turn then ends early, so the path's last step is never used."""
    delete = {"tool_calls": [{"name": "delete_task", "arguments": {"task_id": "{{seed.bread}}"}}]}
    failures = await offline.failures(with_steps(move(due_at="tomorrow 9am"), delete, DONE))

    assert sorted(names(failures)) == ["expect.calls[0]", "expect.forbid_calls[0]", "expect.reply_contains[0]",
                                       "reference"]
    forbidden = next(f for f in failures if f["expectation"] == "expect.forbid_calls[0]")
    assert forbidden["actual"][0]["name"] == "delete_task"


async def test_an_extra_delete_that_is_approved_fails_on_the_final_state(offline: Offline) -> None:
    right = base()["reference"][0]
    delete = {"tool_calls": [{"name": "delete_task", "arguments": {"task_id": "{{seed.bread}}"}}]}
    data = base(turns=[*base()["turns"], {"user": "and bin the bread"}, {"approve": True}],
                reference=[right, [delete], [{"text": "Binned it; 09:00 stays."}]])
    failures = await offline.failures(data)

    assert sorted(names(failures)) == ["expect.count", "expect.forbid_calls[0]", "expect.tasks[1] (key bread)"]
    bread = next(f for f in failures if f["expectation"].startswith("expect.tasks[1]"))
    assert bread["message"] == "deleted differ(s)" and bread["actual"] == {"deleted": True}
    count = next(f for f in failures if f["expectation"] == "expect.count")
    assert count["message"] == "1 live tasks at the end, expected 2"


async def test_a_duplicate_task_fails_the_match_by_title(offline: Offline) -> None:
    """(The agent refuses a repeated identical call in a turn, so the second add spells the title differently.)"""
    add = {"name": "add_task", "arguments": {"title": "Call mom", "tags": ["family"]}}
    again = {"name": "add_task", "arguments": {"title": "Call Mom", "tags": ["family"]}}
    data = base(turns=[{"user": "add call mom #family"}],
                reference=[[{"tool_calls": [add]}, {"tool_calls": [again]}, {"text": "Added **Call mom**."}]],
                expect={"tasks": [{"title": "call MOM", "tags": ["family"]}], "absent": [{"title": "Buy milk"}]})
    failures = await offline.failures(data)

    assert names(failures) == ["expect.tasks[0] ('call MOM')", "expect.absent[0]"]
    assert failures[0]["message"].startswith("2 tasks match (expected exactly one)")
    assert failures[1]["actual"][0]["title"] == "Buy milk"


async def test_replies_model_calls_and_faults_are_judged(offline: Offline) -> None:
    data = base(faults=[{"call": 3, "kind": "unavailable"}])
    data["expect"].update(max_model_calls=2, reply_forbids=["moved"])
    failures = await offline.failures(data)

    # The third call failed: the move was made, but no reply came and the turn failed.
    assert names(failures) == ["reference", "expect.reply_contains[0]", "check.turn_ok", "expect.max_model_calls"]
    assert "injected fault" in failures[2]["message"]
    data["expect"].update(turn_fails=True, max_model_calls=3, reply_contains=[])
    data["reference"][0].pop()
    assert await offline.failures(data) == []
    assert names(await offline.failures(base(expect={"turn_fails": True}))) == ["expect.turn_fails"]


def scenario_file(name: str) -> dict[str, Any]:
    """A shipped scenario as data, to replay on a wrong path."""
    data: dict[str, Any] = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8"))
    return data


async def test_a_task_moved_to_the_wrong_project_or_a_new_one_fails_on_the_final_state(offline: Offline) -> None:
    data = scenario_file("project-put-groceries-under-shopping")
    assert await offline.failures(data) == []
    search = data["reference"][0][0]
    into_work = {"tool_calls": [{"name": "move_task", "arguments": {"task_id": "{{results[-1].data[0].id}}",
                                                                     "project": "Work"}}]}
    failures = await offline.failures({**data, "reference": [[search, into_work, {"text": "Moved, not to Shopping"}]]})
    assert names(failures) == ["expect.tasks[0] (key groceries)", "expect.projects[0] ('Shopping')",
                               "expect.calls[0]"]
    assert failures[0]["actual"]["project"] == "Work" and failures[1]["actual"] == {"open_count": 0}

    new_list = {"tool_calls": [{"name": "add_project", "arguments": {"name": "Shopping list"}}]}
    into_new = {"tool_calls": [{"name": "move_task", "arguments": {"task_id": "{{results[0].data[0].id}}",
                                                                    "project": "Shopping list"}}]}
    moved = {"text": "Moved to Shopping list."}
    failures = await offline.failures({**data, "reference": [[search, new_list, into_new, moved]]})
    assert names(failures) == ["expect.tasks[0] (key groceries)", "expect.projects[0] ('Shopping')",
                               "expect.project_names", "expect.calls[0]", "expect.forbid_calls[0]"]


async def test_a_cycle_left_uncorrected_fails_and_the_wrong_steps_fail_on_their_parent(offline: Offline) -> None:
    data = scenario_file("subtasks-cycle-refused-then-corrected")
    assert await offline.failures(data) == []
    search, cycle = data["reference"][0][:2]
    failures = await offline.failures({**data, "reference": [[search, cycle, {"text": "That makes a loop."}]]})
    # the refused call itself was asked for, so only the missing top_level move fails among the calls
    assert names(failures) == ["expect.tasks[0] (key venue)", "expect.tasks[1] (key wedding)", "expect.calls[0]"]
    assert failures[0]["actual"] == {"parent": "wedding", "project": "Wedding"}
    assert failures[1]["actual"] == {"parent": None, "project": "Wedding"}

    steps = scenario_file("subtasks-break-plan-trip-into-three-steps")
    flat = [{**call, "arguments": {"title": call["arguments"]["title"]}}
            for call in steps["reference"][0][1]["tool_calls"]]
    wrong = [[steps["reference"][0][0], {"tool_calls": flat}, {"text": "Added three tasks."}]]
    failures = await offline.failures({**steps, "reference": wrong})
    assert names(failures) == [f"expect.tasks[{i}] ({title!r})" for i, title in
                               ((1, "Book the flights"), (2, "Book a hotel"), (3, "Pack"))] + ["expect.calls[0]"]
    assert failures[0]["actual"] == {"title": "Book the flights", "parent": None, "project": "Inbox", "status": "open"}


async def test_an_archived_seed_project_refuses_tasks_until_it_is_unarchived(offline: Offline) -> None:
    """The reference path's first add_task fails only because the world archived the project: seeded live, the
    same path files the task twice."""
    data = scenario_file("project-archived-asks-to-unarchive")
    assert await offline.failures(data) == []
    data["projects"][0]["archived"] = False
    failures = await offline.failures(data)
    assert names(failures) == ["expect.tasks[0] ('Hand over the keys')", "expect.projects[0] ('Old flat')",
                               "expect.count"]
    assert failures[1]["actual"] == {"archived": False, "open_count": 2}
