"""The runner: each scenario K times, each trial in a fresh world through the real agent and MCP server, some
trials at once; the reference path replayed when no model factory is given (the offline mode CI runs)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from agent.model import ChatModel
from agent.settings import AgentSettings
from agent.stream import TurnEvent
from domain.uow import UnitOfWork
from evals.models import FaultyModel, RecordingModel, ReferenceModel, RetryingModel
from evals.report import RunReport, ScenarioResult, TrialResult
from evals.scenario import Scenario, Turn
from evals.score import Failure, Transcript, TurnRecord, score
from evals.world import Migrate, World, build_world, make_template

logger = logging.getLogger(__name__)
APPROVALS_PER_TURN = 20  # a turn that keeps asking for approval this often is stuck


@dataclass(frozen=True)
class ModelChoice:
    """The model under test: `factory` makes a fresh one per trial; None replays each scenario's reference."""

    name: str
    factory: Callable[[], ChatModel] | None = None
    retries: int = 4
    backoff: float = 2.0

    @property
    def offline(self) -> bool:
        return self.factory is None


REFERENCE = ModelChoice("scripted")


@dataclass
class RunOptions:
    """How to run: trials per scenario, trials at once, the agent's settings, and the timeout a `timeout` fault
    waits out (short, so that a hanging call costs little)."""

    trials: int = 1
    jobs: int = 4
    settings: AgentSettings = field(default_factory=AgentSettings)
    fault_timeout: float = 1.0
    progress: Callable[[str, bool], None] | None = None  # called after each trial: scenario id, passed
    template: Path | None = None  # a migrated SQLite file to copy per trial; None: migrate one for this run
    # Runs the event consumers (the reminder, recurrence and audit services, the task service) on what a turn
    # committed, before the next turn and the final score; the composition root passes the embedded runtime's.
    settle: Callable[[UnitOfWork], Awaitable[object]] | None = None


async def run_scenarios(scenarios: list[Scenario], model: ModelChoice, migrate: Migrate,
                        options: RunOptions | None = None) -> RunReport:
    """Run every scenario `options.trials` times and collect the results (nothing is printed here)."""
    options = options or RunOptions()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="todo-evals-") as scratch:
        directory = Path(scratch)
        template = options.template or await make_template(directory, migrate)
        gate = asyncio.Semaphore(max(1, options.jobs))

        async def one(scenario: Scenario) -> TrialResult:
            async with gate:
                result = await run_trial(scenario, model, template, directory, options)
            if options.progress is not None:
                options.progress(scenario.id, result.passed)
            return result

        trials = [[one(s) for _ in range(options.trials)] for s in scenarios]
        results = await asyncio.gather(*(asyncio.gather(*batch) for batch in trials))
    per_scenario = [ScenarioResult.of(s, list(r)) for s, r in zip(scenarios, results, strict=True)]
    return RunReport(model=model.name, trials=options.trials, scenarios=per_scenario,
                     wall_seconds=time.perf_counter() - started)


async def run_trial(scenario: Scenario, model: ModelChoice, template: Path, directory: Path,
                    options: RunOptions) -> TrialResult:
    """One trial: build the world, play the turns, score what is left; a crash is the trial's failure."""
    started = time.perf_counter()
    world = await build_world(scenario, template, directory)
    recorder: RecordingModel | None = None
    retrying: RetryingModel | None = None
    try:
        if model.factory is None:
            inner: ChatModel | ReferenceModel = ReferenceModel(scenario, world.ids)
        else:
            inner = retrying = RetryingModel(model.factory(), retries=model.retries, backoff=model.backoff)
        recorder = RecordingModel(FaultyModel(inner, {f.call: f.kind for f in scenario.faults}))
        settings = options.settings
        if any(f.kind == "timeout" for f in scenario.faults):
            settings = replace(settings, model_timeout=min(settings.model_timeout, options.fault_timeout))
        transcript = await play(scenario, world, recorder, inner, settings, options.settle)
        failures = score(scenario, transcript)
        turns = transcript.turns
    except Exception as exc:  # the scenario or the world is broken: report it, keep running the others
        logger.exception("trial of %s crashed", scenario.id)
        failures, turns = [Failure("run", f"the trial crashed: {type(exc).__name__}: {exc}")], []
    finally:
        await world.close()
    return TrialResult(
        passed=not failures, failures=[f.as_dict() for f in failures], seconds=time.perf_counter() - started,
        model_calls=recorder.calls if recorder else 0, tokens_in=recorder.tokens_in if recorder else 0,
        tokens_out=recorder.tokens_out if recorder else 0, model_seconds=recorder.seconds if recorder else 0.0,
        retries=retrying.retried if retrying else 0, turn_seconds=[t.seconds for t in turns],
        replies=[t.text for t in turns], calls=[c for t in turns for c in t.calls],
    )


class Player:
    """Plays a scenario's turns against the agent, keeping the conversation and the calls waiting for approval."""

    def __init__(self, world: World, recorder: RecordingModel, settings: AgentSettings) -> None:
        self.world = world
        self.agent = world.agent(recorder, settings)
        self.conversation: int | None = None
        self.pending: list[str] = []

    async def turn(self, number: int, turn: Turn) -> tuple[TurnRecord, str | None]:
        """Run one scenario turn; the second value is a problem of the run (not the agent's answer)."""
        record, problem = TurnRecord(number=number, approve=turn.approve), None
        if turn.user is not None:
            self.absorb(record, [e async for e in self.agent.run_turn(self.world.user.id, self.conversation,
                                                                      message=turn.user)])
            return record, None
        if not self.pending:
            return record, f"turn {number} answers an approval, but no call waits for one"
        for _ in range(APPROVALS_PER_TURN):
            answer = {"tool_call_id": self.pending[0], "approved": bool(turn.approve)}
            self.absorb(record, [e async for e in self.agent.run_turn(self.world.user.id, self.conversation,
                                                                      approval=answer)])
            if not self.pending or record.error is not None:
                return record, problem
        return record, f"turn {number} still asks for approval after {APPROVALS_PER_TURN} answers"

    def absorb(self, record: TurnRecord, events: list[TurnEvent]) -> None:
        """Fold one run_turn's events into the record (the calls waiting for approval are the last announced)."""
        self.pending = []
        for event in events:
            if event.type == "turn_started":
                self.conversation = event.conversation_id
            elif event.type == "text_delta":
                record.text += event.text
            elif event.type == "tool_call":
                record.calls.append({"name": event.name, "arguments": event.arguments})
            elif event.type == "approval_required":
                self.pending.append(event.tool_call_id)
            elif event.type == "error":
                record.error = event.message


async def play(scenario: Scenario, world: World, recorder: RecordingModel, inner: Any,
               settings: AgentSettings, settle: Callable[[UnitOfWork], Awaitable[object]] | None = None
               ) -> Transcript:
    """Every turn in order (the clock moved by `advance` first, the services run on what it committed after it),
    then the final state."""
    player = Player(world, recorder, settings)
    others_before = await world.tasks(world.other)
    others_projects_before = await world.projects(world.other)
    turns: list[TurnRecord] = []
    problems: list[tuple[str, str]] = []
    for index, turn in enumerate(scenario.turns):
        if turn.advance is not None:
            a = turn.advance
            world.clock.advance(timedelta(days=a.days, hours=a.hours, minutes=a.minutes, seconds=a.seconds))
        if isinstance(inner, ReferenceModel):
            inner.turn = index
        deleted_before = {t.id for t in await world.tasks() if t.deleted_at is not None}
        projects_before = {p.id for p in await world.projects()}
        started = time.perf_counter()
        record, problem = await player.turn(index + 1, turn)
        record.seconds = time.perf_counter() - started
        if settle is not None:
            await settle(world.uow)
        record.newly_deleted = sorted({t.id for t in await world.tasks() if t.deleted_at is not None}
                                      - deleted_before)
        record.projects_deleted = sorted(projects_before - {p.id for p in await world.projects()})
        turns.append(record)
        if problem is not None:
            problems.append(("run", problem))
        if isinstance(inner, ReferenceModel) and (left := inner.unused(index)):
            problems.append(("reference", f"turn {index + 1}: {left} reference step(s) were not used (the agent "
                                          "stopped asking the model earlier: an approval, an error or a limit)"))
    return Transcript(turns=turns, final=await world.tasks(), others_before=others_before,
                      others_after=await world.tasks(world.other), model_calls=recorder.calls, ids=world.ids,
                      now=scenario.now, problems=problems, projects=await world.projects(),
                      others_projects_before=others_projects_before,
                      others_projects_after=await world.projects(world.other))
