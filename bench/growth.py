"""Cost growth: do list and search cost the same for a user with 10,000 tasks as for one with 100,000?

Datasets (full run): (s) 10,000 tasks of one user, (l) 100,000 tasks of one user, on both databases; and on
PostgreSQL (m) 1,000,000 tasks of 1,000 users (1,000 each: a user among many, so indexes must lead with the
owner). Each runs the read operations of the usecases benchmark (the same filters, searches and page 2) as domain
use cases; `l / s` divides the p50 at 100,000 tasks by the p50 at 10,000 of the same operation on the same engine
(target: < 1.5, issue 15). The datasets are open at once and measured in the same rounds, so the ratio compares
calls made side by side. Plans are those of the largest one-user dataset: whether the page query walks an index in
order (flat) or sorts every match (grows with the data). A quick run uses 2,000 / 20,000 tasks and skips (m).
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from typing import Any

from bench import harness
from bench.datasets import SEED, DatasetSpec, load_dataset
from bench.harness import Plan, RunContext, ms, table
from bench.usecases import Op, capture_plans, operations

NAME = "growth"
TITLE = "Cost growth: list and search at 10,000 and 100,000 tasks per user"
TARGET_RATIO = 1.5


def _specs(ctx: RunContext, backend: str) -> list[DatasetSpec]:
    if ctx.quick:
        return [DatasetSpec("s", 1, 2_000), DatasetSpec("l", 1, 20_000)]
    specs = [DatasetSpec("s", 1, 10_000), DatasetSpec("l", 1, 100_000)]
    if backend == "postgres":
        specs.append(DatasetSpec("m", 1_000, 1_000))
    return specs


@dataclasses.dataclass
class Measured:
    op: Op
    stats: harness.Stats
    matches: int | None
    plans: list[Plan]


async def _measure(ctx: RunContext, backend_name: str, specs: list[DatasetSpec]) -> tuple[dict[str, list[Measured]],
                                                                                          list[str]]:
    """Every dataset in a database of its own, all open at once, their operations measured in the same rounds
    (one call of each operation on each dataset per round): a burst of load from a neighbour on this shared machine
    then falls on both sides of a ratio instead of on one dataset's run."""
    notes: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        ops_of: dict[str, list[Op]] = {}
        found: dict[str, dict[str, tuple[int | None, list[Plan]]]] = {}
        for spec in specs:
            backend = await stack.enter_async_context(harness.open_backend(ctx, backend_name, baseline_n=100))
            data = await load_dataset(backend, spec, random.Random(SEED))
            print(f"\n== {backend_name}: ({spec.key}) {spec.label}, loaded in {data.load_seconds:.0f} s", flush=True)
            notes.append(f"{backend_name} ({spec.key}) {spec.label}: {data.rows:,} tasks loaded in "
                         f"{data.load_seconds:.0f} s")
            ops, _terms = await operations(backend, data, ctx)
            ops_of[spec.key] = [op for op in ops if op.group != "create"]
            found[spec.key] = await capture_plans(backend, ops_of[spec.key])
        calls = [(op.call, op.n) for key in ops_of for op in ops_of[key]]
        stats = iter(await harness.measure_interleaved(calls, warmup=5 if ctx.quick else 20))
        measured = {key: [Measured(op, next(stats), *found[key][op.name]) for op in ops] for key, ops in ops_of.items()}
    return measured, notes


async def run(ctx: RunContext) -> str:
    rows: list[list[Any]] = []
    plans: list[str] = []
    loads = [harness.load_average()]
    notes: list[str] = []
    for backend_name in ctx.backends:
        # the same operations in the same order on each dataset (search words differ)
        by_spec, backend_notes = await _measure(ctx, backend_name, _specs(ctx, backend_name))
        notes.extend(backend_notes)
        loads.append(harness.load_average())
        small, large = by_spec["s"], by_spec["l"]
        for i, (r_small, r_large) in enumerate(zip(small, large, strict=True)):
            ratio = r_large.stats.p50 / r_small.stats.p50
            many = by_spec["m"][i] if "m" in by_spec else None
            rows.append([backend_name, r_small.op.group, r_large.op.name, ms(r_small.stats.p50), ms(r_large.stats.p50),
                         f"{ratio:.2f}", "yes" if ratio < TARGET_RATIO else "**no**",
                         ms(r_large.stats.p99), f"{r_large.matches:,}" if r_large.matches is not None else "",
                         ms(many.stats.p50) if many else "—"])
        plans.append(_plans(backend_name, large))
    summary = table(["backend", "group", "operation", "p50 at s", "p50 at l", "l / s", "< 1.5", "p99 at l",
                     "matches at l", "p50 at m"], rows)
    print("\n" + summary, flush=True)
    load = f"{min(loads):.1f} to {max(loads):.1f} (sampled between backends; 2 CPUs)"
    method = __doc__.split("\n\n", 1)[1].strip() + "\n\n" + "; ".join(notes) + "."
    return "\n\n".join([ctx.header(TITLE, load), method, "### Summary (milliseconds)", summary, *plans])


def _plans(backend: str, results: list[Measured]) -> str:
    lines = [f"### {backend}: plans at the largest one-user dataset", "",
             "| operation | index use (page query) | index use (count query) |", "|---|---|---|"]
    for r in results:
        by = {p.label: p.verdict for p in r.plans}
        if by:
            lines.append(f"| {r.op.name} | {by.get('page', '')} | {by.get('count', '')} |")
    lines += ["", "<details><summary>Query plans</summary>", ""]
    for r in results:
        for p in r.plans:
            lines += [f"**{r.op.name}: {p.label} query** ({p.verdict})", "", "```text", p.text, "```", ""]
    lines.append("</details>")
    return "\n".join(lines)
