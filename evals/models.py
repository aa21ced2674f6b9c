"""The chat models of an eval trial: the reference path replayed per turn, injected faults, retries on rate limits
against a real model, and a recorder of calls, token estimates and retries. The agent sees
Recording(Faulty(Retrying(model))): injected faults are never retried, and every call the agent makes is counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.model import ChatModel, Message, ModelEvent, ModelText, ModelToolCall, ModelUnavailable, ToolSpec
from agent.script_refs import replace_references
from agent.scripted_model import ScriptedModel, ScriptStep
from agent.tokens import count_tokens, json_tokens
from evals.scenario import SEED_REFERENCE, Scenario

INJECTED = "The model service is unavailable (an injected fault); try again."


def fill(value: Any, ids: Mapping[tuple[str, str], int]) -> Any:
    """`value` with `{{seed.KEY}}` / `{{others.KEY}}` replaced by the seeded task's id (a whole-string reference
    becomes the integer itself); `{{results...}}` references are left for the scripted model."""
    return replace_references(value, SEED_REFERENCE, lambda m: ids[(m.group(1), m.group(2))])


class ReferenceModel:
    """The scenario's reference path: one ScriptedModel per turn, so a turn that uses fewer or more steps than its
    reference shows up in that turn (see `unused`) instead of shifting every later turn."""

    def __init__(self, scenario: Scenario, ids: Mapping[tuple[str, str], int]) -> None:
        self.turns = [ScriptedModel([ScriptStep.model_validate(fill(step.model_dump(), ids)) for step in steps])
                      for steps in scenario.reference]
        self.turn = 0

    def stream(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        """The current turn's next reference step."""
        return self.turns[self.turn].stream(messages, tools)

    def unused(self, turn: int) -> int:
        """Steps of the turn's reference that the agent did not ask for."""
        model = self.turns[turn]
        return len(model.steps) - model.position


@dataclass
class RetryingModel:
    """A real model behind rate limits: a retryable ModelUnavailable before the first event is retried after a
    growing pause (`backoff` seconds, doubled each time), up to `retries` times; later failures pass through."""

    inner: ChatModel
    retries: int = 4
    backoff: float = 2.0
    retried: int = 0

    async def stream(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        for attempt in range(self.retries + 1):
            started = False
            try:
                async for event in self.inner.stream(messages, tools):
                    started = True
                    yield event
                return
            except ModelUnavailable as exc:
                if started or not exc.retryable or attempt == self.retries:
                    raise
                self.retried += 1
                await asyncio.sleep(self.backoff * 2**attempt)


@dataclass
class FaultyModel:
    """Fails the model calls the scenario names (1-based over the whole scenario): `unavailable` raises
    ModelUnavailable (retryable) without asking the inner model, `timeout` hangs until the agent's model timeout
    cancels it. A faulted call consumes no reference step."""

    inner: ChatModel
    faults: dict[int, str]
    calls: int = 0

    async def stream(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        self.calls += 1
        kind = self.faults.get(self.calls)
        if kind == "unavailable":
            raise ModelUnavailable(INJECTED, retryable=True)
        if kind == "timeout":
            await asyncio.sleep(3600)  # the agent's asyncio.timeout(model_timeout) ends this
        async for event in self.inner.stream(messages, tools):
            yield event


@dataclass
class RecordingModel:
    """Counts the agent's model calls and estimates their tokens (agent.tokens, cl100k: an estimate for any
    model): in = the messages and tool schemas sent, out = the text and tool calls received."""

    inner: ChatModel
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    texts: list[str] = field(default_factory=list)

    async def stream(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        self.calls += 1
        self.tokens_in += json_tokens(messages) + json_tokens(tools)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async for event in self.inner.stream(messages, tools):
                if isinstance(event, ModelText):
                    self.tokens_out += count_tokens(event.text)
                elif isinstance(event, ModelToolCall):
                    self.tokens_out += count_tokens(event.name) + count_tokens(event.arguments)
                yield event
        finally:
            self.seconds += loop.time() - started

