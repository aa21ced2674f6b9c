"""The scorer: a scenario's expectations against what a trial left behind (the final database state, the recorded
tool calls and the replies), as a list of failures, each naming its expectation with expected and actual values."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.project_schemas import ProjectView
from domain.schemas import TaskView
from evals.matching import Names, call_matches, differing, expected_fields, task_fields, text
from evals.models import fill
from evals.scenario import CallMatch, ProjectMatch, Scenario, TaskMatch, TurnText


@dataclass
class TurnRecord:
    """What one turn showed: its reply text, the tool calls the model asked for, and what went wrong."""

    number: int
    approve: bool | None
    text: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    newly_deleted: list[int] = field(default_factory=list)
    projects_deleted: list[int] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Transcript:
    """A finished trial: its turns, the final tasks and projects of both users, the model calls and the runner's
    problems."""

    turns: list[TurnRecord]
    final: list[TaskView]
    others_before: list[TaskView]
    others_after: list[TaskView]
    model_calls: int
    ids: dict[tuple[str, str], int]
    now: datetime
    problems: list[tuple[str, str]] = field(default_factory=list)  # (expectation, message), from the runner
    projects: list[ProjectView] = field(default_factory=list)  # the user's live projects at the end
    others_projects_before: list[ProjectView] = field(default_factory=list)
    others_projects_after: list[ProjectView] = field(default_factory=list)

    def names(self) -> Names:
        """Project names, seed keys and titles of the user's final state, by id."""
        keys = {task_id: key for (group, key), task_id in self.ids.items() if group == "seed"}
        return Names(projects={p.id: p.name for p in self.projects}, keys=keys,
                     titles={t.id: t.title for t in self.final})


@dataclass
class Failure:
    """One expectation that did not hold: its name (e.g. 'expect.tasks[0]'), a sentence, expected and actual."""

    expectation: str
    message: str
    expected: Any = None
    actual: Any = None

    def diff(self) -> str:
        """A unified diff of expected and actual (as indented JSON), empty when there is nothing to compare."""
        if self.expected is None and self.actual is None:
            return ""
        left = json.dumps(self.expected, indent=2, sort_keys=True, default=str).splitlines()
        right = json.dumps(self.actual, indent=2, sort_keys=True, default=str).splitlines()
        return "\n".join(difflib.unified_diff(left, right, "expected", "actual", lineterm="", n=20))

    def as_dict(self) -> dict[str, Any]:
        return {"expectation": self.expectation, "message": self.message, "expected": self.expected,
                "actual": self.actual, "diff": self.diff()}


def score(scenario: Scenario, run: Transcript) -> list[Failure]:
    """Every failed expectation of the scenario in this trial (an empty list: the trial passed)."""
    tz = ZoneInfo(scenario.user.timezone)
    failures = [Failure(name, message) for name, message in run.problems]
    failures += _tasks(scenario, run, tz) + _projects(scenario, run) + _calls(scenario, run, tz)
    failures += _replies(scenario, run) + _checks(scenario, run)
    expect = scenario.expect
    live = [t for t in run.final if t.deleted_at is None]
    if expect.count is not None and len(live) != expect.count:
        failures.append(Failure("expect.count", f"{len(live)} live tasks at the end, expected {expect.count}",
                                expect.count, sorted(t.title for t in live)))
    if expect.max_model_calls is not None and run.model_calls > expect.max_model_calls:
        failures.append(Failure("expect.max_model_calls", f"{run.model_calls} model calls, at most "
                                f"{expect.max_model_calls} allowed", expect.max_model_calls, run.model_calls))
    return failures


def _anchor(fields: dict[str, Any], now: datetime, tz: ZoneInfo) -> datetime:
    """Where a rule is evaluated for comparison: the task's local due, else the scenario's now."""
    due = fields.get("due")
    if due:
        return datetime.fromisoformat(due if " " in due else f"{due} 09:00")
    return now.astimezone(tz).replace(tzinfo=None)


def _found(match: TaskMatch, run: Transcript, tz: ZoneInfo, live_only: bool,
           claimed: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    """The tasks a match names: its seed key's task, or the tasks of that title (live ones unless deleted: true)
    other than those `claimed` by keyed entries (a completed recurring task and its next occurrence share a title)."""
    names = run.names()
    tasks = [task_fields(t, tz, names) for t in run.final]
    if match.key is not None:
        return [t for t in tasks if t["id"] == run.ids.get(("seed", match.key))]
    wanted_deleted = bool(match.deleted) if "deleted" in match.model_fields_set and not live_only else False
    return [t for t in tasks if text(t["title"]) == text(match.title or "") and t["deleted"] == wanted_deleted
            and t["id"] not in claimed]


def _tasks(scenario: Scenario, run: Transcript, tz: ZoneInfo) -> list[Failure]:
    failures = []
    keyed = (run.ids.get(("seed", m.key)) for m in scenario.expect.tasks if m.key is not None)
    claimed = frozenset(i for i in keyed if i is not None)
    for i, match in enumerate(scenario.expect.tasks):
        name = f"expect.tasks[{i}]" + (f" (key {match.key})" if match.key else f" ({match.title!r})")
        found = _found(match, run, tz, live_only=False, claimed=claimed)
        expected = expected_fields(match)
        if len(found) != 1:
            titles = [f"{t.title}{' (deleted)' if t.deleted_at else ''}" for t in run.final]
            what = "no task matches" if not found else f"{len(found)} tasks match (expected exactly one)"
            failures.append(Failure(name, f"{what}; the user's tasks: {titles}", expected, found or None))
            continue
        actual = found[0]
        wrong = differing(match, actual, _anchor(actual, run.now, tz), tz)
        if wrong:
            shown = {k: actual[k] for k in match.compared()}
            failures.append(Failure(name, f"{', '.join(wrong)} differ(s)", expected, shown))
    for i, match in enumerate(scenario.expect.absent):
        live = [t for t in _found(match, run, tz, live_only=True) if not t["deleted"]]
        hits = [t for t in live if not differing(match, t, _anchor(t, run.now, tz), tz)]
        if hits:
            failures.append(Failure(f"expect.absent[{i}]", f"{len(hits)} live task(s) match what must be absent",
                                    expected_fields(match), hits))
    return failures


def project_fields(project: ProjectView) -> dict[str, Any]:
    """The fields of a final project that expectations compare."""
    return {"name": project.name, "archived": project.archived, "colour": project.colour,
            "open_count": project.open_count}


def _project_differs(match: ProjectMatch, name: str, actual: dict[str, Any]) -> bool:
    wanted, have = getattr(match, name), actual[name]
    if name == "colour" and wanted is not None and have is not None:
        return text(wanted) != text(have)
    return bool(wanted != have)


def _projects(scenario: Scenario, run: Transcript) -> list[Failure]:
    failures = []
    final = [project_fields(p) for p in run.projects]
    for i, match in enumerate(scenario.expect.projects):
        name = f"expect.projects[{i}] ({match.name!r})"
        found = [p for p in final if text(p["name"]) == text(match.name)]
        expected = {k: getattr(match, k) for k in match.compared()}
        if not found:
            failures.append(Failure(name, f"no project of that name; the user's projects: "
                                    f"{[p['name'] for p in final]}", expected, None))
            continue
        wrong = [k for k in match.compared() if _project_differs(match, k, found[0])]
        if wrong:
            failures.append(Failure(name, f"{', '.join(wrong)} differ(s)", expected,
                                    {k: found[0][k] for k in match.compared()}))
    wanted_names = scenario.expect.project_names
    if wanted_names is not None:
        have = sorted(text(p.name) for p in run.projects)
        if sorted(text(n) for n in wanted_names) != have:
            failures.append(Failure("expect.project_names", "the user's projects at the end differ",
                                    sorted(wanted_names), sorted(p.name for p in run.projects)))
    return failures


def _all_calls(run: Transcript) -> list[dict[str, Any]]:
    return [{"turn": turn.number, **call} for turn in run.turns for call in turn.calls]


def _expected(call: CallMatch, run: Transcript) -> dict[str, Any]:
    return {"name": call.name, "arguments": fill(call.arguments, run.ids)}


def _calls(scenario: Scenario, run: Transcript, tz: ZoneInfo) -> list[Failure]:
    failures = []
    made = _all_calls(run)
    for i, call in enumerate(scenario.expect.calls):
        expected = _expected(call, run)
        if not any(call_matches(expected, c["name"], c["arguments"], tz) for c in made):
            names = {text(n) for n in (call.name if isinstance(call.name, list) else [call.name])}
            alike = [c for c in made if text(c["name"]) in names]
            message = (f"no call of {call.name} matched the arguments" if alike else
                       f"{call.name} was not called (calls: {[c['name'] for c in made] or 'none'})")
            failures.append(Failure(f"expect.calls[{i}]", message, expected, alike or None))
    for i, call in enumerate(scenario.expect.forbid_calls):
        expected = _expected(call, run)
        hits = [c for c in made if call_matches(expected, c["name"], c["arguments"], tz)]
        if hits:
            failures.append(Failure(f"expect.forbid_calls[{i}]", f"the forbidden call {call.name} was made "
                                    f"({len(hits)} time(s))", expected, hits))
    return failures


def _replies(scenario: Scenario, run: Transcript) -> list[Failure]:
    failures = []
    last = run.turns[-1].text if run.turns else ""
    for i, phrase in enumerate(scenario.expect.reply_contains):
        turn, wanted = (phrase.turn, phrase.text) if isinstance(phrase, TurnText) else (None, phrase)
        reply = last if turn is None else _turn_text(run, turn)
        if text(wanted) not in text(reply):
            where = "the last reply" if turn is None else f"the reply of turn {turn}"
            failures.append(Failure(f"expect.reply_contains[{i}]", f"{wanted!r} is not in {where}", wanted, reply))
    for i, phrase in enumerate(scenario.expect.reply_forbids):
        turn, banned = (phrase.turn, phrase.text) if isinstance(phrase, TurnText) else (None, phrase)
        replies = [t for t in run.turns if turn is None or t.number == turn]
        hits = [t.number for t in replies if text(banned) in text(t.text)]
        if hits:
            failures.append(Failure(f"expect.reply_forbids[{i}]", f"{banned!r} appears in the reply of turn(s) "
                                    f"{hits}", None, [t.text for t in replies if t.number in hits]))
    return failures


def _turn_text(run: Transcript, number: int) -> str:
    return next((t.text for t in run.turns if t.number == number), "")


def _checks(scenario: Scenario, run: Transcript) -> list[Failure]:
    """The checks every scenario gets unless it lists them in expect.skip_checks."""
    skip, failures = set(scenario.expect.skip_checks), []
    if "others_untouched" not in skip:
        before = {t.id: t.model_dump(mode="json") for t in run.others_before}
        after = {t.id: t.model_dump(mode="json") for t in run.others_after}
        if before != after:
            changed = sorted(set(before) ^ set(after) | {k for k in before if before.get(k) != after.get(k)})
            failures.append(Failure("check.others_untouched", f"the other user's tasks changed (ids {changed})",
                                    [before.get(k) for k in changed], [after.get(k) for k in changed]))
        before = {p.id: p.model_dump(mode="json") for p in run.others_projects_before}
        after = {p.id: p.model_dump(mode="json") for p in run.others_projects_after}
        if before != after:
            changed = sorted(set(before) ^ set(after) | {k for k in before if before.get(k) != after.get(k)})
            failures.append(Failure("check.others_untouched", f"the other user's projects changed (ids {changed})",
                                    [before.get(k) for k in changed], [after.get(k) for k in changed]))
    if "approval_for_deletes" not in skip:
        for turn in run.turns:
            if turn.newly_deleted and turn.approve is not True:
                failures.append(Failure("check.approval_for_deletes", f"turn {turn.number} deleted task(s) "
                                        f"{turn.newly_deleted} without an approval in that turn"))
            if turn.projects_deleted and turn.approve is not True:
                failures.append(Failure("check.approval_for_deletes", f"turn {turn.number} deleted project(s) "
                                        f"{turn.projects_deleted} without an approval in that turn"))
    failed = [t for t in run.turns if t.error is not None]
    if scenario.expect.turn_fails and not failed:
        failures.append(Failure("expect.turn_fails", "every turn finished, but a turn was expected to fail"))
    if "turn_ok" not in skip and failed and not scenario.expect.turn_fails:
        failures += [Failure("check.turn_ok", f"turn {t.number} failed: {t.error}") for t in failed]
    return failures
