"""/api/v1/stream: one server-sent event stream per page with your `task.changed` and `notification` events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.live import LiveHub
from web.deps import CurrentActor
from web.problems import responses

router = APIRouter(prefix="/api/v1", tags=["live"], responses=responses(401))

EVENT_STREAM = {"content": {"text/event-stream": {}}, "description": "server-sent events"}


def get_hub(request: Request) -> LiveHub:
    """The live hub of the process (set by the web host)."""
    hub: LiveHub | None = getattr(request.app.state, "live", None)
    if hub is None:
        raise HTTPException(503, "the live stream is not available on this server")
    return hub


HubDep = Annotated[LiveHub, Depends(get_hub)]


@router.get("/stream", response_class=EventSourceResponse, responses={200: EVENT_STREAM, **responses(503)})
async def stream(
    hub: HubDep,
    actor: CurrentActor,
    last_event_id: Annotated[str | None, Header(description="resume after this event id")] = None,
) -> EventSourceResponse:
    """Your live events: `task.changed` {id, type, version}, `notification`, and `resync` (reload, events were
    missed); comment lines are heartbeats. Send `Last-Event-ID` to resume."""
    return EventSourceResponse(_sse(hub, actor.id, _event_id(last_event_id)), ping=hub.ping_seconds, send_timeout=30)


def _event_id(header: str | None) -> int | None:
    try:
        return int(header) if header is not None and header.strip() else None
    except ValueError:
        return None  # not one of ours: start afresh


async def _sse(hub: LiveHub, user_id: int, last_event_id: int | None) -> AsyncIterator[ServerSentEvent]:
    # Subscribing here, when the stream starts, ties the subscription's life to the generator's finally.
    subscription = hub.subscribe(user_id, last_event_id=last_event_id)
    try:
        yield ServerSentEvent(comment="connected")  # once a client reads this, it misses nothing
        async for live in subscription:
            yield ServerSentEvent(data=json.dumps(live.data, separators=(",", ":")), event=live.event, id=str(live.id))
    finally:
        subscription.close()
