"""Benchmarks of todo-agent: `python -m bench [--quick] [--only NAME] [--backends sqlite,postgres]`.

Every module named in `bench.__main__.MODULES` has `async def run(ctx: harness.RunContext) -> str`: it
measures, prints its tables, and returns the Markdown body of its own section of bench/RESULTS.md.
"""
