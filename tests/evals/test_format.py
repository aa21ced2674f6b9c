"""The scenario format's errors: each names the file, the field path and what is allowed there, for a bad value,
an unknown key, a bad timezone, a reference that does not have one list of steps per turn, and the other
cross-checks (id = file stem, unknown seed keys, a turn with both a message and an approval)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.problems import ScenarioError
from evals.scenario import load_scenario, load_scenarios
from tests.evals.conftest import BASE, base, write


def problem(tmp_path: Path, data: dict[str, Any], name: str | None = None) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, data, name))
    return str(caught.value)


def test_the_base_scenario_is_valid_and_keeps_its_values(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, base()))
    assert scenario.id == "base" and scenario.user.timezone == "Europe/Berlin"
    assert scenario.seed[0].due == "2026-03-28 17:00" and scenario.seed[1].due is None
    assert scenario.expect.tasks[0].compared() == ["tags", "due"]
    assert scenario.expect.tasks[1].compared() == ["deleted"]


def test_a_bad_value_names_the_file_the_path_and_the_choices(tmp_path: Path) -> None:
    data = base()
    data["seed"][1]["priority"] = "highest"
    message = problem(tmp_path, data)
    assert message.startswith("base.yaml: ")
    assert "seed[1].priority" in message and "'none', 'low', 'medium', 'high' or 'urgent'" in message


def test_an_unknown_key_is_refused_with_the_allowed_ones(tmp_path: Path) -> None:
    data = base()
    data["expect"]["tasks"][0]["tag"] = ["errands"]  # a typo for `tags` must not silently skip the check
    message = problem(tmp_path, data)
    assert "expect.tasks[0].tag: unknown field" in message
    assert "allowed here: key, title, description, status, priority, tags, due" in message
    top = problem(tmp_path, base(expectations={}))
    assert "expectations: unknown field (allowed here: id, description, tags, user, now" in top


def test_a_bad_timezone_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    message = problem(tmp_path, base(user={"timezone": "Europe/Berlinn"}))
    assert "user.timezone" in message and "Europe/Berlin" in message
    assert "user.timezone" in problem(tmp_path, base(user={"timezone": "EST"}))


def test_a_reference_shorter_than_the_turns_is_refused(tmp_path: Path) -> None:
    data = base(turns=[*BASE["turns"], {"user": "and the bread?"}])
    message = problem(tmp_path, data)
    assert "reference has 1 turn(s) of steps but turns has 2" in message


def test_the_cross_checks(tmp_path: Path) -> None:
    assert "must equal the file name's stem 'other-name'" in problem(tmp_path, base(), name="other-name")
    data = base()
    data["expect"]["tasks"][0]["key"] = "butter"
    assert "expect.tasks[0].key: 'butter' is not a seed key (seed keys: ['bread', 'milk'])" in problem(tmp_path, data)
    data = base()
    data["expect"]["calls"][0]["arguments"]["task_id"] = "{{seed.cheese}}"
    assert "{{seed.cheese}} names no seed task" in problem(tmp_path, data)
    both = problem(tmp_path, base(turns=[{"user": "hi", "approve": True}]))
    assert "turns[0]: a turn has exactly one of `user`" in both
    assert "seed[0].due: '28/03/2026' is not a local due" in problem(
        tmp_path, base(seed=[{"key": "milk", "title": "Buy milk", "due": "28/03/2026"}, BASE["seed"][1]]))
    assert "now needs an offset" in problem(tmp_path, base(now="2026-03-28T18:00:00"))
    assert "all_day disagrees with due" in problem(
        tmp_path, base(seed=[{"key": "milk", "title": "Buy milk", "due": "2026-03-29", "all_day": False},
                             BASE["seed"][1]]))


def test_yaml_problems_and_every_bad_file_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    (tmp_path / "list.yaml").write_text("- just a list\n", encoding="utf-8")
    write(tmp_path, base())
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(tmp_path)
    lines = str(caught.value)
    assert "broken.yaml: cannot read it as YAML" in lines and "list.yaml: a scenario is a YAML mapping" in lines
    assert [s.id for s in load_scenarios(tmp_path, "bas")] == ["base"]
    assert [s.id for s in load_scenarios(tmp_path, "b?se")] == ["base"]


def test_projects_and_subtasks_in_the_seed_are_checked(tmp_path: Path) -> None:
    shopping = [{"key": "shop", "name": "Shopping"}]
    seed = [{"key": "milk", "title": "Buy milk", "project": "shopping"},
            {"key": "oat", "title": "Oat milk", "parent": "milk"}]
    scenario = load_scenario(write(tmp_path, base(projects=shopping, seed=seed, expect={})))
    assert scenario.projects[0].name == "Shopping" and scenario.seed[1].parent == "milk"

    def seeded(projects: list[Any], tasks: list[Any], **changes: object) -> str:
        return problem(tmp_path, base(projects=projects, seed=tasks, expect={}, **changes))

    assert "seed[0].project: 'Health' is not in projects (names: ['Shopping']) nor the Inbox" in seeded(
        shopping, [{"title": "Floss", "project": "Health"}])
    assert "seed[0].parent: 'later' names no earlier task of seed" in seeded(
        shopping, [{"title": "Oat milk", "parent": "later"}, {"key": "later", "title": "Buy milk"}])
    assert "seed[1].project: a subtask is in its parent's project; leave project out" in seeded(
        shopping, [seed[0], {"title": "Oat milk", "parent": "milk", "project": "Inbox"}])
    assert "projects: 'shopping' appears twice" in seeded([*shopping, {"name": "shopping"}], [])
    assert "projects: the Inbox exists for every user" in seeded([{"name": "INBOX"}], [])
    assert "others[0].project: 'Work' is not in others_projects" in seeded(
        [], [], others=[{"title": "Bob's", "project": "Work"}])
    archived = [{"key": "old", "name": "Old flat", "colour": "#22c55e", "archived": True}]
    loaded = load_scenario(write(tmp_path, base(projects=archived, seed=[{"title": "x", "project": "old flat"}],
                                                expect={})))
    assert loaded.projects[0].archived and loaded.keys("projects") == {"old"}


def test_project_expectations_are_checked(tmp_path: Path) -> None:
    def expecting(**expect: object) -> str:
        return problem(tmp_path, base(expect=expect))

    assert "expect.tasks[0]: give `parent` (a seed key, or null for top level) or `parent_title`, not both" in \
        expecting(tasks=[{"key": "milk", "parent": None, "parent_title": "x"}])
    assert "expect.tasks[0].parent: 'butter' is not a seed key" in expecting(
        tasks=[{"key": "milk", "parent": "butter"}])
    assert "expect.tasks[0]: project: every task is in a project" in expecting(tasks=[{"key": "milk", "project": None}])
    assert "expect.projects[0].name: required field is missing" in expecting(projects=[{"archived": True}])
    assert "expect.projects[0].open: unknown field (allowed here: name, archived, colour, open_count)" in \
        expecting(projects=[{"name": "Shopping", "open": 2}])
    assert "{{projects.home}} names no project of projects (keys: [])" in expecting(
        calls=[{"name": "move_task", "arguments": {"project": "{{projects.home}}"}}])
