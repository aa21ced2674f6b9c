"""/api/v1/recurrence/preview, /api/v1/undo and /api/v1/now: the helpers a client plans with."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from domain import usecases as uc
from domain.schemas import NowView, RecurrencePreview, UndoResult
from domain.values import RULE_MAX, Text
from web.deps import CurrentActor, UowDep
from web.problems import responses

router = APIRouter(prefix="/api/v1", tags=["planning"], responses=responses(401))


@router.get("/recurrence/preview", response_model=RecurrencePreview, responses=responses(422))
async def preview_recurrence(
    uow: UowDep,
    actor: CurrentActor,
    rule: Annotated[Text, Query(min_length=1, max_length=RULE_MAX, examples=["every monday at 09:00"])],
    count: Annotated[int, Query(ge=1, le=100)] = 5,
    start: Annotated[Text | None, Query(description="datetime or date; default now")] = None,
) -> RecurrencePreview:
    """The next `count` occurrences of a rule in your timezone, without saving anything."""
    return await uc.preview_recurrence(uow, actor, rule, count=count, start=start)


@router.post("/undo", response_model=UndoResult, responses=responses(409))
async def undo(uow: UowDep, actor: CurrentActor) -> UndoResult:
    """Revert your latest change (a bulk change as a whole); again to go further back."""
    return await uc.undo_last_change(uow, actor)


@router.get("/now", response_model=NowView)
async def now(uow: UowDep, actor: CurrentActor) -> NowView:
    """Your local date, time and timezone."""
    return await uc.whats_now(uow, actor)
