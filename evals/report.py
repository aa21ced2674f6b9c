"""Results and reports: per trial, per scenario (c of n passed), pass^k over the run, cost and time, written as
report.json and report.md."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from math import comb
from pathlib import Path
from typing import Any

from evals.scenario import Scenario

# US dollars per million tokens (input, output), from the providers' price pages (Cohere, 2025). Token counts are
# estimates (cl100k), so the cost is too. A model not listed gets tokens only.
PRICES: dict[str, tuple[float, float]] = {
    "scripted": (0.0, 0.0),
    "command-a-03-2025": (2.50, 10.00),
    "command-r-plus-08-2024": (2.50, 10.00),
    "command-r-08-2024": (0.15, 0.60),
    "command-r7b-12-2024": (0.0375, 0.15),
}


def pass_hat_k(c: int, n: int, k: int) -> float:
    """The unbiased estimate of the chance that k trials in a row pass, from c passes in n trials: C(c,k)/C(n,k)."""
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"need 1 <= k <= n and 0 <= c <= n (got c={c}, n={n}, k={k})")
    return comb(c, k) / comb(n, k)


def pass_hat(results: list[tuple[int, int]], k: int) -> float:
    """pass^k averaged over scenarios, each given as (c, n)."""
    return sum(pass_hat_k(c, n, k) for c, n in results) / len(results) if results else 0.0


@dataclass
class TrialResult:
    """One trial's verdict and measurements (tokens are estimates, see evals.models.RecordingModel)."""

    passed: bool
    failures: list[dict[str, Any]]
    seconds: float
    model_calls: int
    tokens_in: int
    tokens_out: int
    model_seconds: float
    retries: int
    turn_seconds: list[float]
    replies: list[str]
    calls: list[dict[str, Any]]


@dataclass
class ScenarioResult:
    """A scenario over its trials: c of n passed, the first failing trial's failures, and mean costs."""

    id: str
    description: str
    tags: list[str]
    passed: int
    trials: int
    failures: list[dict[str, Any]]
    model_calls: float
    tokens_in: float
    tokens_out: float
    seconds: float
    turn_seconds_p50: float
    retries: int
    runs: list[TrialResult] = field(default_factory=list)

    @classmethod
    def of(cls, scenario: Scenario, runs: list[TrialResult]) -> ScenarioResult:
        first = next((r for r in runs if not r.passed), None)
        turns = [s for r in runs for s in r.turn_seconds]
        return cls(
            id=scenario.id, description=scenario.description, tags=scenario.tags,
            passed=sum(r.passed for r in runs), trials=len(runs), failures=first.failures if first else [],
            model_calls=statistics.fmean(r.model_calls for r in runs),
            tokens_in=statistics.fmean(r.tokens_in for r in runs),
            tokens_out=statistics.fmean(r.tokens_out for r in runs),
            seconds=statistics.fmean(r.seconds for r in runs),
            turn_seconds_p50=statistics.median(turns) if turns else 0.0, retries=sum(r.retries for r in runs),
            runs=runs,
        )


@dataclass
class RunReport:
    """The whole run: the model, K, every scenario's result and the wall time."""

    model: str
    trials: int
    scenarios: list[ScenarioResult]
    wall_seconds: float
    price_model: str | None = None  # the price table's name for the model (e.g. the Cohere model id)

    def pass_at(self) -> dict[int, float]:
        """pass^k for k = 1..K."""
        counts = [(s.passed, s.trials) for s in self.scenarios]
        return {k: pass_hat(counts, k) for k in range(1, self.trials + 1)}

    def cost(self) -> dict[str, Any]:
        """Tokens in and out over every trial, the wall time, and dollars if the model's price is known."""
        runs = [r for s in self.scenarios for r in s.runs]
        tokens_in, tokens_out = sum(r.tokens_in for r in runs), sum(r.tokens_out for r in runs)
        price = PRICES.get(self.price_model or self.model)
        dollars = None if price is None else (tokens_in * price[0] + tokens_out * price[1]) / 1e6
        return {"tokens_in": tokens_in, "tokens_out": tokens_out, "estimated_usd": dollars,
                "model_calls": sum(r.model_calls for r in runs), "retries": sum(r.retries for r in runs),
                "wall_seconds": round(self.wall_seconds, 2),
                "model_seconds": round(sum(r.model_seconds for r in runs), 2), **latency(runs)}

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "price_model": self.price_model, "trials": self.trials,
                "pass_hat_k": {str(k): v for k, v in self.pass_at().items()}, "cost": self.cost(),
                "scenarios": [asdict(s) for s in self.scenarios]}

    def markdown(self) -> str:
        """The report for people: pass^k, cost and time, a table of scenarios, then each failure with its diff."""
        cost = self.cost()
        dollars = "unknown price" if cost["estimated_usd"] is None else f"≈ ${cost['estimated_usd']:.4f}"
        lines = [f"# Evals: {self.model}, {self.trials} trial(s) per scenario, {len(self.scenarios)} scenarios", "",
                 "pass^k (the chance that k trials in a row pass, averaged over scenarios): "
                 + ", ".join(f"pass^{k} = {v:.3f}" for k, v in self.pass_at().items()), "",
                 f"Cost and time: {cost['tokens_in']} tokens in, {cost['tokens_out']} out (estimated), {dollars}; "
                 f"{cost['model_calls']} model calls, {cost['retries']} retries; wall {cost['wall_seconds']} s; "
                 f"turn latency p50 {cost['turn_seconds_p50']} s, p95 {cost['turn_seconds_p95']} s.", "",
                 "| scenario | passed | model calls | tokens in/out | turn p50 s |", "|---|---|---|---|---|"]
        for s in self.scenarios:
            mark = "" if s.passed == s.trials else " ✗"
            lines.append(f"| {s.id} | {s.passed}/{s.trials}{mark} | {s.model_calls:.1f} | {s.tokens_in:.0f}/"
                         f"{s.tokens_out:.0f} | {s.turn_seconds_p50:.3f} |")
        failing = [s for s in self.scenarios if s.failures]
        if failing:
            lines += ["", "## Failures (the first failing trial of each scenario)"]
        for s in failing:
            lines += ["", f"### {s.id} ({s.passed}/{s.trials})", "", s.description, ""]
            for failure in s.failures:
                lines.append(f"- **{failure['expectation']}**: {failure['message']}")
                if failure["diff"]:
                    lines += ["", "  ```diff", *[f"  {line}" for line in failure["diff"].splitlines()], "  ```"]
        return "\n".join(lines) + "\n"


def latency(runs: list[TrialResult]) -> dict[str, float]:
    """The median and 95th percentile of the turns' wall times (seconds), over every trial."""
    turns = sorted(s for r in runs for s in r.turn_seconds)
    if not turns:
        return {"turn_seconds_p50": 0.0, "turn_seconds_p95": 0.0}
    p95 = turns[min(len(turns) - 1, round(0.95 * (len(turns) - 1)))]
    return {"turn_seconds_p50": round(statistics.median(turns), 3), "turn_seconds_p95": round(p95, 3)}


def write_reports(report: RunReport, directory: Path) -> tuple[Path, Path]:
    """report.json and report.md in `directory` (created if missing); returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "report.json", directory / "report.md"
    json_path.write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    md_path.write_text(report.markdown(), encoding="utf-8")
    return json_path, md_path
