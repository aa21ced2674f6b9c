"""/api/v1/tags: your tags with counts; rename (merging) and delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from domain import usecases as uc
from domain.schemas import TagCount
from domain.values import Text
from web.deps import CurrentActor, UowDep
from web.problems import responses
from web.schemas import TagDeleted, TagRename

TagName = Annotated[Text, Path(max_length=200, description="the tag's name")]

router = APIRouter(prefix="/api/v1/tags", tags=["tags"], responses=responses(401))


@router.get("", response_model=list[TagCount])
async def list_tags(uow: UowDep, actor: CurrentActor) -> list[TagCount]:
    """Your tags with the number of tasks carrying each."""
    return await uc.list_tags(uow, actor)


@router.patch("/{name}", response_model=TagCount, responses=responses(404, 422))
async def rename_tag(uow: UowDep, actor: CurrentActor, name: TagName, body: TagRename) -> TagCount:
    """Rename a tag on all your tasks; onto an existing tag, the two merge."""
    return await uc.rename_tag(uow, actor, name, body.name)


@router.delete("/{name}", response_model=TagDeleted, responses=responses(404, 422))
async def delete_tag(uow: UowDep, actor: CurrentActor, name: TagName) -> TagDeleted:
    """Remove a tag from every task."""
    return TagDeleted(name=name, tasks=await uc.delete_tag(uow, actor, name))
