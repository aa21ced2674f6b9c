"""`python -m bench [--quick] [--only NAME] [--backends sqlite,postgres] [--results PATH | --no-results]`.

Runs every benchmark module (or only NAME), prints its tables, and rewrites its own section of
bench/RESULTS.md. A --quick run (small data, few iterations; under a minute) is a smoke run: it writes no
results unless --results names a file, so it never replaces the real figures.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import shlex
import sys
import time
from pathlib import Path

from bench import harness

MODULES = ["usecases", "growth", "sqlite_driver", "rest", "mcp", "agent", "delivery", "hostile"]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="small data and few iterations (a smoke run)")
    parser.add_argument("--only", action="append", choices=MODULES, metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(MODULES)}")
    parser.add_argument("--backends", default="sqlite,postgres",
                        help="comma-separated: sqlite, postgres (default both; postgres is skipped with a note "
                             "when no server is reachable, unless named explicitly)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--results", type=Path, help=f"results file (default {harness.RESULTS.relative_to(harness.ROOT)}"
                                                   " for full runs, none for --quick)")
    out.add_argument("--no-results", action="store_true", help="print only")
    return parser.parse_args(argv)


async def main(argv: list[str]) -> int:
    args = parse(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgres"}
    if unknown or not backends:
        harness.die(f"unknown backend(s) {sorted(unknown)}: use sqlite, postgres")
    results = None if args.no_results else (args.results or (None if args.quick else harness.RESULTS))
    command = "python -m bench" + ("" if not argv else " " + shlex.join(argv))
    ctx = harness.RunContext(quick=args.quick, backends=backends, results=results, command=command)
    if "postgres" in backends:
        ctx.postgres_admin = await asyncio.to_thread(harness.postgres_admin_url)
        if ctx.postgres_admin is None:
            if "--backends" in " ".join(argv):
                harness.die("PostgreSQL is not reachable (set BENCH_POSTGRES_URL or TEST_DATABASE_URL)")
            print("bench: PostgreSQL is not reachable; running SQLite only", file=sys.stderr)
            ctx.backends = [b for b in backends if b != "postgres"]
        else:
            ctx.postgres_version = await asyncio.to_thread(harness.postgres_version, ctx.postgres_admin)
    print(f"bench: {ctx.machine()}", flush=True)
    for name in args.only or MODULES:
        module = importlib.import_module(f"bench.{name}")
        t0 = time.perf_counter()
        print(f"\n### bench.{name}", flush=True)
        body = await module.run(ctx)
        print(f"\nbench.{name} took {time.perf_counter() - t0:.0f} s", flush=True)
        if ctx.results is not None:
            harness.write_section(ctx.results, name, body)
            print(f"bench: wrote section '{name}' of {ctx.results}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
