"""`todo-agent evals run`: the eval scenarios through the real agent and MCP server, offline on their reference
paths (`--model scripted`, what CI runs) or against a real chat model; reports in --out (report.json, report.md).

Exit codes: 0 when pass^1 reaches --min-pass, 1 below it, 2 when the run cannot start (a bad scenario file, no
scenario matching --filter, a model without its key)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runtime.cli.support import verbose

if TYPE_CHECKING:
    from agent.model import ChatModel
    from evals.report import RunReport
    from evals.runner import ModelChoice
    from evals.scenario import Scenario

CANNOT_RUN = 2
BELOW_THRESHOLD = 1
DEFAULT_OUT = Path("evals/out")

evals_app = typer.Typer(help="Scripted conversation evals (issue 14).", no_args_is_help=True)


def cannot_run(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(CANNOT_RUN)


def _cohere() -> tuple[Callable[[], ChatModel], str]:
    """Cohere from the environment (CO_API_KEY or COHERE_API_KEY, TODO_AGENT_COHERE_MODEL, CO_API_URL)."""
    from agent.cohere_model import DEFAULT_MODEL
    from agent.model_choice import build_model
    from runtime.chat_settings import ModelConfig

    config = ModelConfig(model="cohere")
    if config.api_key is None:
        raise cannot_run("--model cohere needs CO_API_KEY (or COHERE_API_KEY): a key from dashboard.cohere.com")
    key = config.api_key.get_secret_value()

    def factory() -> ChatModel:
        model = build_model(api_key=key, cohere_model=config.cohere_model, base_url=config.api_url)
        assert model is not None  # a key was given
        return model

    return factory, config.cohere_model or DEFAULT_MODEL


def _openai() -> tuple[Callable[[], ChatModel], str]:
    """An OpenAI-compatible server from the environment, with the chat's own settings (TODO_AGENT_OPENAI_BASE_URL,
    TODO_AGENT_OPENAI_MODEL, optional TODO_AGENT_OPENAI_API_KEY); the model's name is its price-table name."""
    from pydantic import ValidationError

    from runtime.chat_settings import OPENAI, ModelConfig
    from runtime.cli.support import describe

    try:
        config = ModelConfig(model=OPENAI)
    except ValidationError as exc:
        raise cannot_run(f"--model openai: {describe(exc)}") from None

    def factory() -> ChatModel:
        model = config.chat_model()
        assert model is not None  # the validator checked the settings
        return model

    return factory, config.openai_model or OPENAI


# The real chat models by --model name: each returns a factory (a fresh model per trial) and its price-table name.
# A new adapter registers here.
ADAPTERS: dict[str, Callable[[], tuple[Callable[[], ChatModel], str]]] = {"cohere": _cohere, "openai": _openai}


def model_choice(name: str) -> tuple[ModelChoice, str]:
    """The model the --model name picks, and the name its price is looked up by."""
    from evals.runner import REFERENCE, ModelChoice

    if name == "scripted":
        return REFERENCE, "scripted"
    if name not in ADAPTERS:
        raise cannot_run(f"--model {name!r} is not known; choose one of: scripted, {', '.join(sorted(ADAPTERS))}")
    factory, price_name = ADAPTERS[name]()
    return ModelChoice(name, factory), price_name


@evals_app.command("run")
def run(
    ctx: typer.Context,
    model: Annotated[str, typer.Option(help="scripted (replay each reference path, offline) or a real model: "
                                       "cohere, openai")] = "scripted",
    trials: Annotated[int, typer.Option("--trials", "-k", min=1, help="Trials per scenario (K of pass^K).")] = 1,
    filter_: Annotated[str | None, typer.Option("--filter", help="Only scenarios whose id contains this "
                                                "(a glob with * or ?).")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Trials run at once.")] = 4,
    min_pass: Annotated[float, typer.Option(min=0.0, max=1.0, help="Exit 1 when pass^1 is below this.")] = 0.0,
    out: Annotated[Path, typer.Option(help="Where report.json and report.md go.")] = DEFAULT_OUT,
    scenarios_dir: Annotated[Path | None, typer.Option("--scenarios", help="Scenario directory (default: "
                                                       "evals/scenarios).")] = None,
) -> None:
    """Run the eval scenarios K times each and report pass^1..pass^K, failures with diffs, tokens and time."""
    try:
        from evals.problems import ScenarioError
        from evals.scenario import SCENARIOS, load_scenarios
    except ModuleNotFoundError as exc:  # the container image ships the app without its evals
        raise cannot_run(f"the evals are not installed here ({exc}); run them from a source checkout") from None

    try:
        scenarios = load_scenarios(scenarios_dir or SCENARIOS, filter_)
    except ScenarioError as exc:
        raise cannot_run(f"bad scenario file(s):\n{exc}") from None
    if not scenarios:
        raise cannot_run(f"no scenario matches --filter {filter_!r}" if filter_ else "no scenarios found")
    choice, price_name = model_choice(model)
    with _logging(out, verbose(ctx)):
        report = asyncio.run(_run(scenarios, choice, trials, jobs))
    report.price_model = price_name
    from evals.report import write_reports

    json_path, md_path = write_reports(report, out)
    _summary(report, json_path, md_path)
    if report.pass_at()[1] < min_pass:
        typer.echo(f"pass^1 = {report.pass_at()[1]:.3f} is below --min-pass {min_pass}", err=True)
        raise typer.Exit(BELOW_THRESHOLD)


@contextmanager
def _logging(out: Path, loud: bool) -> Iterator[None]:
    """While the run lasts, logs go to evals.log beside the reports (the terminal shows the progress bar);
    --verbose adds stderr. The handlers are removed and closed afterwards."""
    out.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.FileHandler(out / "evals.log", mode="w", encoding="utf-8")]
    if loud:
        handlers.append(logging.StreamHandler(sys.stderr))
    root, level = logging.getLogger(), logging.getLogger().level
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if loud else logging.INFO)
    try:
        yield
    finally:
        root.setLevel(level)
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()


async def _run(scenarios: list[Scenario], choice: ModelChoice, trials: int, jobs: int) -> RunReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from evals.runner import RunOptions, run_scenarios
    from runtime.migrate import upgrade
    from runtime.wiring.inprocess import run_services_until_idle

    failed = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as progress:
        bar = progress.add_task(f"evals ({choice.name})", total=len(scenarios) * trials)

        def step(scenario_id: str, passed: bool) -> None:
            nonlocal failed
            failed += not passed
            note = f", {failed} failed" if failed else ""
            progress.update(bar, advance=1, description=f"evals ({choice.name}{note}) {scenario_id}")

        # A `timeout` fault waits out the agent's model timeout, lowered for that scenario: 1 s offline, but a real
        # model's calls before the fault need the time to answer.
        options = RunOptions(trials=trials, jobs=jobs, progress=step, fault_timeout=1.0 if choice.offline else 30.0,
                             settle=run_services_until_idle)
        return await run_scenarios(scenarios, choice, upgrade, options)


def _summary(report: RunReport, json_path: Path, md_path: Path) -> None:
    cost = report.cost()
    typer.echo(", ".join(f"pass^{k} = {v:.3f}" for k, v in report.pass_at().items()))
    dollars = "" if cost["estimated_usd"] is None else f", ≈ ${cost['estimated_usd']:.4f}"
    typer.echo(f"{cost['tokens_in']} tokens in, {cost['tokens_out']} out (estimated){dollars}; "
               f"{cost['model_calls']} model calls; {cost['wall_seconds']} s")
    for scenario in report.scenarios:
        if scenario.failures:
            first = scenario.failures[0]
            typer.echo(f"  FAIL {scenario.id} ({scenario.passed}/{scenario.trials}): {first['expectation']}: "
                       f"{first['message']}")
    typer.echo(f"reports: {json_path} and {md_path}")
