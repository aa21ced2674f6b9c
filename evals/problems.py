"""Scenario errors for people: pydantic's errors as `field.path: what is wrong (allowed: ...)` sentences."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file and the field path of each problem."""


def path_of(loc: tuple[int | str, ...]) -> str:
    """('seed', 0, 'due') -> 'seed[0].due' (pydantic's union branch names, like 'str' or 'TurnText', dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part[:1].isupper() or part in {"str", "bool", "int", "float", "list[str]"} or "[" in part:
            continue
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation may hold (through Optional, unions and lists)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose fields the location names, walking field annotations (None when it cannot tell)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int) or part not in model.model_fields:
            continue
        candidates = _models_in(model.model_fields[part].annotation)
        model = candidates[0] if candidates else None
    return model


def sentence(error: Any, root: type[BaseModel]) -> str:
    """One pydantic error as 'path: message', with the allowed field names for an unknown key."""
    loc = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        owner = model_at(root, loc[:-1])
        allowed = ", ".join(owner.model_fields) if owner is not None else "see FORMAT.md"
        return f"{path_of(loc)}: unknown field (allowed here: {allowed})"
    if error["type"] == "missing":
        return f"{path_of(loc)}: required field is missing"
    return f"{path_of(loc)}: {message}"


def describe_errors(exc: ValidationError, root: type[BaseModel]) -> str:
    """Every error of a validation, one per line, duplicates (from union branches) folded."""
    lines: list[str] = []
    for error in exc.errors():
        line = sentence(error, root)
        if line not in lines:
            lines.append(line)
    return "\n  ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines)

