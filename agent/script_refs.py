"""`{{results[-1].id}}` references in scripted tool arguments: a tiny path evaluator (no eval)."""

from __future__ import annotations

import re
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
    if isinstance(value, dict):
        return {key: substitute(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, results) for item in value]
    if not isinstance(value, str):
        return value
    whole = REFERENCE.fullmatch(value.strip())
    if whole:
        return resolve(whole.group(1), results)
    return REFERENCE.sub(lambda m: str(resolve(m.group(1), results)), value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
