"""The scenario format (evals/scenarios/FORMAT.md): pydantic models for one YAML file, and loading them with errors
that name the file, the field path and what is allowed there."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain.errors import DomainError
from domain.timeutil import check_timezone
from domain.values import Priority, Status
from evals.problems import ScenarioError, describe_errors

SCENARIOS = Path(__file__).parent / "scenarios"
LOCAL_DUE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2})(?::00)?)?")
SEED_REFERENCE = re.compile(r"\{\{\s*(seed|others|projects|others_projects)\.([A-Za-z0-9_-]+)\s*\}\}")
Key = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]


def local_due(value: Any) -> Any:
    """'YYYY-MM-DD HH:MM' (a moment in the user's timezone) or 'YYYY-MM-DD' (all day), normalised."""
    if value is None or not isinstance(value, str):
        return value
    match = LOCAL_DUE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a local due: write 'YYYY-MM-DD HH:MM' or 'YYYY-MM-DD' (all day)")
    day, clock = match.groups()
    date.fromisoformat(day)
    return f"{day} {clock}" if clock else day


class Strict(BaseModel):
    """Every model of the format refuses unknown keys (a typo must not silently turn a check off)."""

    model_config = ConfigDict(extra="forbid")


class RecurrenceValue(Strict):
    """A recurrence rule with its mode; a plain string in YAML means `{rule: <string>, mode: due}`."""

    rule: str = Field(min_length=1)
    mode: Literal["due", "completion"] = "due"


class SeedProject(Strict):
    """A project that exists before turn 1 (`projects` for the user, `others_projects` for the other user); the
    Inbox always exists and is not listed."""

    key: Key | None = None
    name: str = Field(min_length=1, max_length=100)
    colour: str | None = None
    archived: bool = False


class SeedTask(Strict):
    """A task that exists before turn 1 (for the user, or under `others` for the other user)."""

    key: Key | None = None
    title: str = Field(min_length=1)
    description: str = ""
    priority: Priority = Priority.NONE
    tags: list[str] = Field(default_factory=list)
    due: str | None = None
    all_day: bool | None = None
    recurrence: str | RecurrenceValue | None = None
    reminders: list[int] = Field(default_factory=list)
    status: Status = Status.OPEN
    deleted: bool = False
    project: str | None = Field(default=None, min_length=1)
    parent: str | None = Field(default=None, min_length=1)

    _due = field_validator("due", mode="before")(local_due)

    @model_validator(mode="after")
    def _consistent(self) -> SeedTask:
        if self.all_day is not None and self.due is not None and self.all_day != (" " not in self.due):
            raise ValueError("all_day disagrees with due: an all-day due is 'YYYY-MM-DD', a timed one has HH:MM")
        return self


class TaskMatch(Strict):
    """A subset match on a final task: only the fields given are compared (`due: null` means "no due")."""

    key: str | None = None
    title: str | None = None
    description: str | None = None
    status: Status | None = None
    priority: Priority | None = None
    tags: list[str] | None = None
    due: str | None = None
    all_day: bool | None = None
    recurrence: str | RecurrenceValue | None = None
    reminders: list[int] | None = None
    deleted: bool | None = None
    project: str | None = None
    parent: str | None = None
    parent_title: str | None = None

    _due = field_validator("due", mode="before")(local_due)

    @model_validator(mode="after")
    def _one_parent(self) -> TaskMatch:
        if "parent" in self.model_fields_set and "parent_title" in self.model_fields_set:
            raise ValueError("give `parent` (a seed key, or null for top level) or `parent_title`, not both")
        if "project" in self.model_fields_set and self.project is None:
            raise ValueError("project: every task is in a project; name it (e.g. Inbox)")
        return self

    def compared(self) -> list[str]:
        """The fields this match compares, in the order above (not `key`, which only finds the task)."""
        return [name for name in type(self).model_fields if name in self.model_fields_set and name != "key"]


class ProjectMatch(Strict):
    """A live project found by name (case-insensitive, archived ones too); only the fields given are compared."""

    name: str = Field(min_length=1)
    archived: bool | None = None
    colour: str | None = None
    open_count: int | None = Field(default=None, ge=0)

    def compared(self) -> list[str]:
        return [name for name in type(self).model_fields if name in self.model_fields_set and name != "name"]


class CallMatch(Strict):
    """A tool call, BFCL-style: the arguments named must match (a list = any of these), others may be anything;
    `name` may be a list of tools that would all do (e.g. [set_due_date, update_task])."""

    name: str | list[str] = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class TurnText(Strict):
    """A phrase for one turn's reply (turns are numbered from 1 in the order of `turns`)."""

    turn: int = Field(ge=1)
    text: str = Field(min_length=1)


class Expect(Strict):
    """What must hold at the end (see FORMAT.md for each check)."""

    tasks: list[TaskMatch] = Field(default_factory=list)
    absent: list[TaskMatch] = Field(default_factory=list)
    count: int | None = Field(default=None, ge=0)
    projects: list[ProjectMatch] = Field(default_factory=list)
    project_names: list[str] | None = None
    calls: list[CallMatch] = Field(default_factory=list)
    forbid_calls: list[CallMatch] = Field(default_factory=list)
    reply_contains: list[str | TurnText] = Field(default_factory=list)
    reply_forbids: list[str | TurnText] = Field(default_factory=list)
    max_model_calls: int | None = Field(default=None, ge=0)
    turn_fails: bool = False
    skip_checks: list[Literal["others_untouched", "approval_for_deletes", "turn_ok"]] = Field(default_factory=list)


class Advance(Strict):
    """Time that passes before a turn (the frozen clock moves; nothing else happens)."""

    days: float = 0
    hours: float = 0
    minutes: float = 0
    seconds: float = 0


class Turn(Strict):
    """One turn: a user message, or the answer to the pending approval(s); `advance` moves the clock first."""

    user: str | None = Field(default=None, min_length=1)
    approve: bool | None = None
    advance: Advance | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Turn:
        if (self.user is None) == (self.approve is None):
            raise ValueError("a turn has exactly one of `user` (a message) or `approve` (true/false)")
        return self


class Fault(Strict):
    """The scenario's model call number `call` (1-based, counting every call) fails or hangs."""

    call: int = Field(ge=1)
    kind: Literal["unavailable", "timeout"]


class User(Strict):
    """The user the agent acts for."""

    timezone: str
    name: str | None = None
    email: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            return check_timezone(value)
        except DomainError as exc:
            raise ValueError(str(exc)) from None


class Step(Strict):
    """One model call of the reference path: text, tool calls, or both (agent.scripted_model.ScriptStep)."""

    text: str = ""
    tool_calls: list[CallMatch] = Field(default_factory=list)


class Scenario(Strict):
    """One eval scenario: who, when, what exists, what the user says, the perfect path, and what must be true."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = Field(min_length=1)
    tags: list[str] = Field(min_length=1)
    user: User
    now: datetime
    projects: list[SeedProject] = Field(default_factory=list)
    seed: list[SeedTask] = Field(default_factory=list)
    others_projects: list[SeedProject] = Field(default_factory=list)
    others: list[SeedTask] = Field(default_factory=list)
    turns: list[Turn] = Field(min_length=1)
    faults: list[Fault] = Field(default_factory=list)
    reference: list[list[Step]] = Field(min_length=1)
    expect: Expect = Field(default_factory=Expect)

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError("now needs an offset, e.g. '2026-03-28T18:00:00+01:00'")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        from evals.scenario_checks import cross_problems  # it reads these models: imported once they exist

        problems = cross_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def keys(self, group: str) -> set[str]:
        """The keys of `seed`, `others`, `projects` or `others_projects`."""
        items: list[SeedTask] | list[SeedProject] = getattr(self, group)
        return {t.key for t in items if t.key}


def plain(value: Any) -> Any:
    """YAML's dates and times as ISO strings (unquoted `2026-03-29` is a date to YAML), everything else as is."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def load_scenario(path: Path) -> Scenario:
    """Read and validate one scenario file; ScenarioError names the file and each problem's field path."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path.name}: cannot read it as YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path.name}: a scenario is a YAML mapping (id, description, tags, user, now, ...)")
    try:
        scenario = Scenario.model_validate(plain(raw))
    except ValidationError as exc:
        raise ScenarioError(f"{path.name}: " + describe_errors(exc, Scenario)) from None
    if scenario.id != path.stem:
        raise ScenarioError(f"{path.name}: id: {scenario.id!r} must equal the file name's stem {path.stem!r}")
    return scenario


def load_scenarios(directory: Path = SCENARIOS, pattern: str | None = None) -> list[Scenario]:
    """Every `*.yaml` scenario in `directory` (sorted by id), those whose id contains `pattern` if given (a glob
    when it has * or ?); all files' problems are reported together."""
    from fnmatch import fnmatch

    paths = sorted(directory.glob("*.yaml"))
    if pattern:
        glob = any(c in pattern for c in "*?[")
        paths = [p for p in paths if (fnmatch(p.stem, pattern) if glob else pattern in p.stem)]
    scenarios, problems = [], []
    for path in paths:
        try:
            scenarios.append(load_scenario(path))
        except ScenarioError as exc:
            problems.append(str(exc))
    if problems:
        raise ScenarioError("\n".join(problems))
    return scenarios
