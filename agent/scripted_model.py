"""A chat model that replays a script: each model call takes the next entry of a JSON list of steps."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from agent.model import Message, ModelEnd, ModelEvent, ModelText, ModelToolCall, ModelUnavailable, ToolSpec
from agent.script_refs import ScriptError, substitute


class ScriptedCall(BaseModel):
    """A tool call; string arguments may hold references such as `{{results[-1].id}}`."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ScriptStep(BaseModel):
    """What the model says in one call: text, tool calls, or both."""

    text: str = ""
    tool_calls: list[ScriptedCall] = Field(default_factory=list)
    delay_ms: int = Field(default=0, ge=0, le=60_000, description="pause before each piece of text (slow models)")


class ScriptedModel:
    """Replays `steps` in order across every conversation it serves, streaming text in small pieces."""

    def __init__(self, steps: list[ScriptStep], *, chunk: int = 16, label: str = "scripted") -> None:
        self.steps = list(steps)
        self.position = 0
        self.chunk = chunk
        self.label = label  # what the host shows as the model in use

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedModel:
        """Load a script: a JSON list of `{"text": ..., "tool_calls": [{"name": ..., "arguments": {...}}]}`."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls([ScriptStep.model_validate(step) for step in raw], label=f"scripted {path}")
        except (OSError, ValueError, TypeError, ValidationError) as exc:
            raise ScriptError(f"cannot read the model script {path}: {exc}") from exc

    async def stream(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:  # noqa: ARG002
        """The next step of the script, its references resolved against this conversation's tool results."""
        step = self._next()
        try:
            calls = [self._call(call, tool_results(messages)) for call in step.tool_calls]
        except ScriptError as exc:
            raise ModelUnavailable(f"The model script is wrong: {exc}", retryable=False) from exc
        for start in range(0, len(step.text), self.chunk):
            await asyncio.sleep(step.delay_ms / 1000)
            yield ModelText(step.text[start : start + self.chunk])
        for call in calls:
            yield call
        yield ModelEnd("TOOL_CALL" if calls else "COMPLETE")

    def _next(self) -> ScriptStep:
        if self.position >= len(self.steps):
            raise ModelUnavailable(f"The model script has no step {self.position + 1}.", retryable=False)
        self.position += 1
        return self.steps[self.position - 1]

    @staticmethod
    def _call(call: ScriptedCall, results: list[Any]) -> ModelToolCall:
        arguments = substitute(call.arguments, results)
        return ModelToolCall(id=f"call_{uuid.uuid4().hex[:12]}", name=call.name, arguments=json.dumps(arguments))


def tool_results(messages: list[Message]) -> list[Any]:
    """The data of every tool result in the messages, oldest first (errors as `{"error": ...}`)."""
    results: list[Any] = []
    for message in messages:
        if message.get("role") != "tool":
            continue
        for part in message.get("content") or []:
            data = part.get("document", {}).get("data") if isinstance(part, dict) else None
            if isinstance(data, str):
                results.append(_loads(data))
            elif data is not None:
                results.append(data)
    return results


def _loads(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data
