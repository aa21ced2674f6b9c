"""Every scenario in evals/scenarios, offline on its reference path (K=1): each must pass. This is the check CI runs
on every change ("fails when it drops"): a change to the tools, the agent loop, approvals or the scorer that breaks
a reference path fails here, naming the scenario and its failing expectation. Also: the scenarios cover every MCP
tool (in some scenario's tags and some reference path) and there are at least 40."""

from __future__ import annotations

from evals.scenario import load_scenarios
from mcp_server.tools import catalogue
from tests.evals.conftest import Offline

MINIMUM = 40


async def test_every_scenario_passes_offline(offline: Offline) -> None:
    scenarios = load_scenarios()
    report = await offline.run(scenarios, jobs=4)

    failing = {s.id: [f"{f['expectation']}: {f['message']}" for f in s.failures]
               for s in report.scenarios if s.passed != s.trials}
    assert failing == {}
    assert report.pass_at()[1] == 1.0


def test_the_scenarios_cover_every_tool() -> None:
    scenarios = load_scenarios()
    tools = {tool.name for tool in catalogue()}
    tagged = {tag for s in scenarios for tag in s.tags}
    replayed = {call.name for s in scenarios for steps in s.reference for step in steps
                for call in step.tool_calls if isinstance(call.name, str)}
    assert sorted(tools - tagged) == [], "tools in no scenario's tags"
    assert sorted(tools - replayed) == [], "tools in no scenario's reference path"
    assert len(scenarios) >= MINIMUM
