"""Retrying a model call before it has said anything: the one policy both API adapters (Cohere, OpenAI) follow."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from agent.model import ModelEvent, ModelUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures an adapter retries and how it words them.

    `failures`: the exceptions its SDK raises; `worth_retrying`: whether one may pass on a later try (rate limits,
    5xx, lost connections); `delay`: the wait before retry n, from the failure (Retry-After) and the back-off;
    `unavailable`: the failure as a sentence for the person; `describe`: the failure in a log line."""

    name: str
    failures: tuple[type[Exception], ...]
    worth_retrying: Callable[[Exception], bool]
    delay: Callable[[Exception, float], float]
    unavailable: Callable[[Exception], ModelUnavailable]
    describe: Callable[[Exception], str]
    max_retries: int = 2
    retry_delay: float = 1.0  # seconds before the first retry, doubled for each next one


async def with_retries(
    policy: RetryPolicy, events: Callable[[], AsyncIterator[ModelEvent]]
) -> AsyncIterator[ModelEvent]:
    """The events of `events()`, called again after a failure worth retrying that came before any output; any other
    failure (or one after output: a retry would show that output twice) ends the stream as ModelUnavailable."""
    attempt = 0
    while True:
        started = False
        try:
            async for event in events():
                started = True
                yield event
            return
        except policy.failures as exc:
            if started or not policy.worth_retrying(exc) or attempt >= policy.max_retries:
                raise policy.unavailable(exc) from exc
            attempt += 1
            wait = policy.delay(exc, policy.retry_delay * 2 ** (attempt - 1))
            logger.warning("%s call failed (%s); retry %d in %.1f s", policy.name, policy.describe(exc), attempt, wait)
            await asyncio.sleep(wait)
