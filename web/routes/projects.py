"""/api/v1/projects: your projects with open-task counts; create, read, rename or recolour, archive, unarchive,
delete (its tasks to the Inbox or the trash; /api/v1/undo brings them back)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, status

from domain import usecases as uc
from domain.project_schemas import ProjectCreate, ProjectDeletion, ProjectView
from web.deps import CurrentActor, UowDep
from web.problems import responses
from web.schemas import ProjectId, ProjectPatch, VersionBody

router = APIRouter(prefix="/api/v1/projects", tags=["projects"], responses=responses(401))

OptionalVersion = Annotated[VersionBody | None, Body(description="optional: the version you last saw")]
NewProject = Annotated[ProjectCreate, Body(openapi_examples={
    "named": {"summary": "a project", "value": {"name": "Shopping"}},
    "coloured": {"summary": "with a colour", "value": {"name": "Work", "colour": "#3b82f6"}},
})]


def _version(body: VersionBody | None) -> int | None:
    return body.version if body else None


@router.get("", response_model=list[ProjectView], responses=responses(422))
async def list_projects(
    uow: UowDep,
    actor: CurrentActor,
    include_archived: Annotated[bool, Query(description="also the archived projects")] = False,
) -> list[ProjectView]:
    """Your projects with their open-task counts: the Inbox first, then by name."""
    return await uc.list_projects(uow, actor, include_archived=include_archived)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectView, responses=responses(409, 422))
async def create_project(uow: UowDep, actor: CurrentActor, body: NewProject) -> ProjectView:
    """Create a project; its name must differ from your other projects' in any case (409 otherwise)."""
    return await uc.create_project(uow, actor, body.name, colour=body.colour)


@router.get("/{project_id}", response_model=ProjectView, responses=responses(404, 422))
async def get_project(uow: UowDep, actor: CurrentActor, project_id: ProjectId) -> ProjectView:
    """One project (archived ones too) with its open-task count."""
    return await uc.get_project(uow, actor, project_id)


@router.patch("/{project_id}", response_model=ProjectView, responses=responses(404, 409, 422))
async def update_project(uow: UowDep, actor: CurrentActor, project_id: ProjectId, body: ProjectPatch) -> ProjectView:
    """Rename a project and/or change its colour (null clears it); the Inbox keeps its name."""
    return await uc.update_project(uow, actor, project_id, body.changes(), expected_version=body.version)


@router.post("/{project_id}/archive", response_model=ProjectView, responses=responses(404, 409, 422))
async def archive_project(uow: UowDep, actor: CurrentActor, project_id: ProjectId, body: OptionalVersion = None
                          ) -> ProjectView:
    """Archive a project: it leaves the list and takes no new tasks; its tasks stay in it. Not the Inbox."""
    return await uc.archive_project(uow, actor, project_id, expected_version=_version(body))


@router.post("/{project_id}/unarchive", response_model=ProjectView, responses=responses(404, 409, 422))
async def unarchive_project(uow: UowDep, actor: CurrentActor, project_id: ProjectId, body: OptionalVersion = None
                            ) -> ProjectView:
    """Bring an archived project back to the list."""
    return await uc.unarchive_project(uow, actor, project_id, expected_version=_version(body))


@router.delete("/{project_id}", response_model=ProjectDeletion, responses=responses(404, 409, 422))
async def delete_project(
    uow: UowDep,
    actor: CurrentActor,
    project_id: ProjectId,
    tasks: Annotated[Literal["inbox", "trash"], Query(description="inbox (the default): its tasks move to the "
                                                      "Inbox; trash: they go to the trash")] = "inbox",
    body: OptionalVersion = None,
) -> ProjectDeletion:
    """Delete a project (not the Inbox) and say how many tasks moved or were trashed; /api/v1/undo reverts it."""
    return await uc.delete_project(uow, actor, project_id, tasks=tasks, expected_version=_version(body))
