"""/api/v1/stream: one server-sent event stream per page with your `task.changed` and `notification` events."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from web.deps import BearerToken, CurrentActor, StateDep, actor_for_bearer
from web.live import LiveHub, LiveSubscription, StreamsFull
from web.problems import problem_response, responses

router = APIRouter(prefix="/api/v1", tags=["live"], responses=responses(401))
log = logging.getLogger(__name__)

EVENT_STREAM = {"content": {"text/event-stream": {}}, "description": "server-sent events"}


async def get_hub(request: Request) -> LiveHub:
    """The live hub of the process (set by the web host)."""
    hub: LiveHub | None = getattr(request.app.state, "live", None)
    if hub is None:
        raise HTTPException(503, "the live stream is not available on this server")
    return hub


HubDep = Annotated[LiveHub, Depends(get_hub)]


@router.get("/stream", response_class=EventSourceResponse, response_model=None,
            responses={200: EVENT_STREAM, **responses(503)})
async def stream(
    hub: HubDep,
    actor: CurrentActor,
    state: StateDep,
    token: BearerToken,
    last_event_id: Annotated[str | None, Header(description="resume after this event id")] = None,
) -> EventSourceResponse | JSONResponse:
    """Your live events: `task.changed` {id, type, version}, `notification`, and `resync` (reload, events were
    missed); comment lines are heartbeats. Send `Last-Event-ID` to resume. The stream ends when its token is
    revoked or expires (reconnect with a fresh one). Opening more than TODO_AGENT_STREAMS_PER_USER ends your oldest
    stream with a `closed` event; a server at TODO_AGENT_STREAMS_MAX answers 503 with Retry-After."""
    try:
        hub.admit()
    except StreamsFull as full:
        return problem_response(503, "Service Unavailable", str(full), code="streams_full",
                                headers={"Retry-After": str(full.retry_after)})
    recheck = _Recheck(lambda: actor_for_bearer(state, token), state.stream_recheck_seconds)
    return EventSourceResponse(_sse(hub, actor.id, _event_id(last_event_id), recheck), ping=hub.ping_seconds,
                               send_timeout=30)


def _event_id(header: str | None) -> int | None:
    try:
        return int(header) if header is not None and header.strip() else None
    except ValueError:
        return None  # not one of ours: start afresh


class _Recheck:
    """Re-checks the stream's credential every `every` seconds and ends the subscription once it fails."""

    def __init__(self, check: Callable[[], Awaitable[object]], every: float) -> None:
        self.check = check
        self.every = every

    async def watch(self, subscription: LiveSubscription) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.check()
            except Exception as exc:  # revoked, expired, the user gone, or the check itself failed: fail closed
                log.info("ending a live stream of user %s: %s", subscription.user_id, exc)
                subscription.close()
                return


async def _sse(
    hub: LiveHub, user_id: int, last_event_id: int | None, recheck: _Recheck
) -> AsyncIterator[ServerSentEvent]:
    # Subscribing here, when the stream starts, ties the subscription's life to the generator's finally.
    subscription = hub.subscribe(user_id, last_event_id=last_event_id)
    watcher = asyncio.create_task(recheck.watch(subscription))
    try:
        yield ServerSentEvent(comment="connected")  # once a client reads this, it misses nothing
        async for live in subscription:
            yield ServerSentEvent(data=json.dumps(live.data, separators=(",", ":")), event=live.event, id=str(live.id))
    finally:
        watcher.cancel()
        subscription.close()
