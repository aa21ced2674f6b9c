"""Errors as sentences: which argument or field is wrong, what it must be, and how to call again.

The SDK reports a failed tool call as "Error executing tool NAME: " plus the exception's text, and for arguments
that fail the input schema that text is pydantic's report (error types, input reprs, documentation URLs). The
server class below rewrites every tool failure once, where the exception is still at hand, so no tool needs code
of its own. `sentences` also words the REST API's validation errors (web.problems)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError, UnexpectedToolError
from mcp.types import CallToolResult, InputRequiredResult
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from domain import usecases as uc
from domain.errors import DomainError, ProjectNotFound, VersionConflict

MAX_SENTENCES = 3  # a list of 20 bad items is one mistake repeated: show a few
PROJECTS_SHOWN = 20  # an unknown project's error lists the user's projects, up to this many
_KINDS = {
    "int": "an integer", "float": "a number", "decimal": "a number", "string": "a string", "bool": "true or false",
    "list": "a list", "tuple": "a list", "set": "a list", "dict": "an object", "model": "an object",
    "model_attributes": "an object", "none": "null", "date": "a date", "datetime": "a datetime",
}
_MEMBER_TAGS = frozenset({"str", "int", "float", "bool", "bytes", "date", "datetime", "time", "none"})
_COMPARISONS = {
    "greater_than_equal": ("greater than or equal to", "ge"), "less_than_equal": ("less than or equal to", "le"),
    "greater_than": ("greater than", "gt"), "less_than": ("less than", "lt"),
}


def sentence_for(field: str, error: ErrorDetails, example: str | None = None) -> str:
    """One validation error as a sentence about `field`; `example` (a call as the caller would write it) is shown
    where a value is missing or of the wrong type."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    e_g = f", e.g. {example}" if example else ""
    if kind == "missing":
        text = f"{field} is required" + (f": {example}" if example else "")
    elif kind in ("enum", "literal_error"):
        allowed = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", "")))) or str(ctx.get("expected"))
        text = f"{field} must be one of {allowed} (got {shown(value)})"
    elif kind in ("too_long", "string_too_long", "too_short", "string_too_short"):
        text = _length(field, kind, ctx, value)
    elif kind in _COMPARISONS:
        words, key = _COMPARISONS[kind]
        text = f"{field} must be {words} {ctx.get(key)} (got {shown(value)})"
    elif kind == "extra_forbidden":
        text = f"{field} is not a field here; leave it out"
    elif kind == "json_invalid":
        text = f"the request body is not valid JSON ({ctx.get('error', 'cannot be parsed')})"
    elif kind in ("value_error", "assertion_error"):
        text = _reason(field, str(ctx.get("error", error["msg"])).removeprefix("Value error, "))
    elif (noun := _KINDS.get(kind.removesuffix("_type").removesuffix("_parsing").split("_from_")[0])) is not None:
        if noun == "a list" and _scalar(value):
            text = f"{field} must be a list even for one value, e.g. [{shown(value)}] (got {shown(value)})"
        else:
            text = f"{field} must be {noun} (got {shown(value)}){e_g}"
    else:
        reason = error["msg"]
        text = (f"{field} must be {reason.removeprefix('Input should be ')} (got {shown(value)})"
                if reason.startswith("Input should be ") else f"{field}: {reason}")
    return finish(text)


def _reason(field: str, reason: str) -> str:
    """A validator's own message ("must not be empty", "at most 20 tags per call") joined to the field's name."""
    if reason.startswith(("must ", "is ")):
        return f"{field} {reason}"
    if reason.startswith(("at most ", "at least ")):
        return f"{field} takes {reason}"
    return f"{field}: {reason}"


def _length(field: str, kind: str, ctx: dict[str, Any], value: Any) -> str:
    noun = "characters" if isinstance(value, str) else "items"
    size = len(value) if isinstance(value, str | list | tuple | dict) else ctx.get("actual_length")
    if kind.endswith("too_long"):
        split = "" if noun == "characters" else "; split the change into several calls"
        return f"{field} must have at most {ctx.get('max_length')} {noun} (got {size}){split}"
    return f"{field} must have at least {ctx.get('min_length')} {noun} (got {size})"


def sentences(
    errors: Iterable[tuple[str, ErrorDetails]], example: Callable[[str], str | None] | None = None
) -> str:
    """Sentences for (field, error) pairs: one per field (a union's members each report the same value), at
    most MAX_SENTENCES. `example(field)` gives a sample value to show for a field, if any."""
    seen: dict[str, str] = {}
    for field, error in errors:
        if field not in seen:
            seen[field] = sentence_for(field, error, example(field) if example else None)
    shown_ = list(seen.values())
    more = len(shown_) - MAX_SENTENCES
    return " ".join(shown_[:MAX_SENTENCES]) + (f" ({more} more like these.)" if more > 0 else "")


def field_name(loc: Sequence[str | int], skip: Iterable[str] = ()) -> str:
    """A location as a caller writes it: `status[0]`, `recurrence.rule` ("" for the whole input)."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        elif part not in skip and not union_member(part):
            name += f".{part}" if name else part
    return name


def union_member(part: str | int) -> bool:
    """Whether a location part is the tag pydantic adds for a member of a union (`str-enum[Priority]`,
    `function-after[no_nul(), str]`, `datetime`) rather than a field name."""
    return isinstance(part, str) and ("[" in part or part in _MEMBER_TAGS)


def shown(value: Any) -> str:
    """A rejected value as the caller wrote it, cut short."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def finish(text: str) -> str:
    """The message as a sentence: trimmed, ending in a full stop."""
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


class ReadableErrorsServer(MCPServer):
    """An MCPServer whose failed tool calls read as sentences for the model (and the person reading along).

    `MCPServer.call_tool` raises every failure as a ToolError whose `__cause__` is what went wrong; this rewrites
    its message and keeps that cause, so the SDK still returns `is_error=True`, logs field names only for bad
    arguments, and logs a crash with its traceback (UnexpectedToolError stays one). A use case's refusal
    (DomainError) is no crash: it becomes a tool error in the use case's words, so no tool maps errors itself."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            if isinstance(exc.__cause__, DomainError):  # a refusal of the use case, worded for the caller
                hint = await _projects_hint(exc.__cause__, context)
                raise ToolError(finish(domain_message(exc.__cause__)) + hint) from exc.__cause__
            raise UnexpectedToolError(
                f"{name} failed because of a problem on the server, not in your call; try once more, and if it "
                "fails again tell the user it could not be done."
            ) from exc.__cause__
        except ToolError as exc:
            raise ToolError(await self._explain(name, exc)) from exc.__cause__

    async def _explain(self, name: str, exc: ToolError) -> str:
        tools = {tool.name: tool for tool in await self.list_tools()}
        cause = exc.__cause__
        if name not in tools:
            guess = difflib.get_close_matches(name, tools, n=1)
            hint = f" Did you mean {guess[0]}?" if guess else ""
            return f"There is no tool named {name!r}.{hint} The tools are: {', '.join(sorted(tools))}."
        if isinstance(cause, ValidationError):
            description = tools[name].description or ""
            return sentences(
                ((field_name(e["loc"]), e) for e in cause.errors(include_url=False)),
                lambda field: _example_call(name, field, description),
            )
        if isinstance(cause, ToolError | ResourceError):
            return finish(str(cause))
        return finish(str(exc).removeprefix(f"Error executing tool {name}: "))


def domain_message(exc: DomainError) -> str:
    """A use case's refusal as the model should read it: a version conflict also says how to recover."""
    if isinstance(exc, VersionConflict):
        reader = "list_projects" if exc.message.startswith("project") else "get_task"
        return f"{exc.message} (call {reader} for the current version)"
    return exc.message


async def _projects_hint(exc: DomainError, context: Context[Any, Any] | None) -> str:
    """For an unknown project: the caller's projects (and the closest name), so the next call can get it right."""
    if not isinstance(exc, ProjectNotFound) or context is None:
        return ""
    state = context.request_context.lifespan_context  # the CallState, with the caller the use case refused
    if getattr(state, "caller", None) is None:
        return ""
    uow, me = state.acting()
    projects = await uc.list_projects(uow, me, include_archived=True)
    names = [f"{p.name} ({p.id}{', archived' if p.archived else ''})" for p in projects[:PROJECTS_SHOWN]]
    more = f" and {len(projects) - PROJECTS_SHOWN} more" if len(projects) > PROJECTS_SHOWN else ""
    guess = difflib.get_close_matches(str(exc.project).casefold(), [p.name.casefold() for p in projects], n=1)
    meant = next((f" Did you mean {p.name!r}?" for p in projects if guess and p.name.casefold() == guess[0]), "")
    return f"{meant} Your projects (id): {', '.join(names)}{more}."


def _example_call(tool: str, field: str, description: str) -> str | None:
    """`tool(field=value)` with the value the tool's own docstring example uses for that argument, if it has one."""
    argument = field.split("[")[0]
    found = re.search(rf"\b{re.escape(argument)}=(\"[^\"]*\"|'[^']*'|\[[^\]]*\]|[^,)\s]+)", description)
    return f"{tool}({argument}={found.group(1)})" if found else None
