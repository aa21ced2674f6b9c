"""Evals fixtures: one migrated SQLite template for the package (each trial copies it), a way to write scenario
files into tmp_path, a small valid scenario to vary, and running scenarios offline on their reference paths."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from evals.report import RunReport
from evals.runner import REFERENCE, RunOptions, run_scenarios
from evals.scenario import Scenario, load_scenario
from evals.world import make_template
from runtime.migrate import upgrade
from runtime.wiring.inprocess import run_services_until_idle

# A small valid scenario: find a task, move it to "tomorrow 9am" (Berlin, the evening before DST starts), reply.
BASE: dict[str, Any] = {
    "id": "base",
    "description": "Moving a task to tomorrow 9am the evening before DST starts.",
    "tags": ["dates", "dst", "search_tasks", "set_due_date"],
    "user": {"timezone": "Europe/Berlin"},
    "now": "2026-03-28T18:00:00+01:00",
    "seed": [{"key": "milk", "title": "Buy milk", "tags": ["errands"], "due": "2026-03-28 17:00"},
             {"key": "bread", "title": "Bake bread", "tags": ["home"]}],
    "others": [{"key": "bobs", "title": "Buy milk"}],
    "turns": [{"user": "move the milk task to tomorrow 9am"}],
    "reference": [[
        {"tool_calls": [{"name": "search_tasks", "arguments": {"query": "milk"}}]},
        {"tool_calls": [{"name": "set_due_date",
                         "arguments": {"task_id": "{{results[-1].data[0].id}}", "due_at": "tomorrow 9am"}}]},
        {"text": "Moved **Buy milk** to tomorrow at 09:00."},
    ]],
    "expect": {
        "tasks": [{"key": "milk", "due": "2026-03-29 09:00", "tags": ["errands"]},
                  {"key": "bread", "deleted": False}],
        "count": 2,
        "calls": [{"name": "set_due_date", "arguments": {"task_id": "{{seed.milk}}",
                                                         "due_at": ["tomorrow 9am", "2026-03-29T09:00"]}}],
        "forbid_calls": [{"name": "delete_task"}],
        "reply_contains": ["09:00"],
    },
}


def base(**changes: Any) -> dict[str, Any]:
    """A deep copy of BASE with top-level keys replaced."""
    scenario = copy.deepcopy(BASE)
    scenario.update(changes)
    return scenario


def write(directory: Path, scenario: dict[str, Any], name: str | None = None) -> Path:
    """The scenario as a YAML file named after its id (or `name`)."""
    path = directory / f"{name or scenario['id']}.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
async def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file the trials copy, made once for the session by the runner's own make_template."""
    return await make_template(tmp_path_factory.mktemp("evals-template"), upgrade)


class Offline:
    """Runs scenarios on their reference paths against the shared template."""

    def __init__(self, template: Path, tmp_path: Path) -> None:
        self.template = template
        self.tmp_path = tmp_path

    def scenario(self, data: dict[str, Any]) -> Scenario:
        return load_scenario(write(self.tmp_path, data))

    async def run(self, scenarios: list[Scenario], trials: int = 1, jobs: int = 2) -> RunReport:
        options = RunOptions(trials=trials, jobs=jobs, template=self.template, settle=run_services_until_idle)
        return await run_scenarios(scenarios, REFERENCE, upgrade, options)

    async def failures(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The failures of one offline trial of the scenario."""
        report = await self.run([self.scenario(data)])
        return report.scenarios[0].failures


@pytest.fixture
def offline(template: Path, tmp_path: Path) -> Offline:
    return Offline(template, tmp_path)
