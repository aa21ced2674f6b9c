"""`{{results[-1].id}}` references in scripted tool arguments: a tiny path evaluator (no eval)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

PATH = r"results(?:\[-?\d+\]|\.[A-Za-z_][A-Za-z0-9_]*)*"
REFERENCE = re.compile(r"\{\{\s*(" + PATH + r")\s*\}\}")
STEP = re.compile(r"\[(-?\d+)\]|\.([A-Za-z_][A-Za-z0-9_]*)")


class ScriptError(ValueError):
    """A script entry is malformed or refers to a result that is not there."""


def resolve(path: str, results: list[Any]) -> Any:
    """The value at `path` (e.g. 'results[0].data[0].id') in the earlier tool results."""
    if not re.fullmatch(PATH, path):
        raise ScriptError(f"{{{{{path}}}}} is not a reference like results[-1].id")
    value: Any = results
    for index, key in STEP.findall(path[len("results") :]):
        value = _step(value, int(index) if index else key, path)
    return value


def _step(value: Any, step: int | str, path: str) -> Any:
    """One `[n]` into a list or `.name` into an object; anything else does not resolve."""
    try:
        if isinstance(value, list) and isinstance(step, int):
            return value[step]
        if isinstance(value, dict) and isinstance(step, str):
            return value[step]
    except (IndexError, KeyError):
        pass
    raise ScriptError(f"{{{{{path}}}}} does not resolve: no {step!r} in {_short(value)}")


def substitute(value: Any, results: list[Any]) -> Any:
    """`value` with every reference replaced; a string that is exactly one reference takes the value's type."""
    return replace_references(value, REFERENCE, lambda m: resolve(m.group(1), results))


def replace_references(value: Any, pattern: re.Pattern[str], lookup: Callable[[re.Match[str]], Any]) -> Any:
    """`value` (JSON-like, walked through dicts and lists) with each match of `pattern` in its strings replaced by
    `lookup(match)`; a string that is exactly one match becomes the looked-up value itself, not its text."""
    if isinstance(value, dict):
        return {key: replace_references(item, pattern, lookup) for key, item in value.items()}
    if isinstance(value, list):
        return [replace_references(item, pattern, lookup) for item in value]
    if not isinstance(value, str):
        return value
    whole = pattern.fullmatch(value.strip())
    if whole:
        return lookup(whole)
    return pattern.sub(lambda m: str(lookup(m)), value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
