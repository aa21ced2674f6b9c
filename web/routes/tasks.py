"""/api/v1/tasks: list, create, quick add, read, change, move, complete, reopen, delete, restore, bulk."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Header, Query, status

from domain import usecases as uc
from domain.schemas import BulkResult, ProjectRef, QuickAddPreview, SortKey, SortOrder, TaskCreate, TaskView
from domain.values import (
    ID_MAX,
    PAGE_DEFAULT,
    PAGE_MAX,
    PROJECTS_FILTER_MAX,
    TAGS_PER_TASK_MAX,
    Priority,
    StatusFilter,
    Text,
)
from web.deps import CurrentActor, UowDep
from web.problems import responses
from web.schemas import (
    BulkRequest,
    CompleteBody,
    QuickAdd,
    QuickAddText,
    TaskId,
    TaskMoveBody,
    TaskPatch,
    TasksPublic,
    VersionBody,
)

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses=responses(401))

OptionalVersion = Annotated[VersionBody | None, Body(description="optional: the version you last saw")]
IdempotencyKey = Annotated[Text | None, Header(max_length=255, description="repeat-safe creation")]
OptionalComplete = Annotated[CompleteBody | None, Body(description="optional: the version you last saw, and "
                                                       "subtasks=complete to complete open subtasks too")]


def project_refs(values: list[str] | None) -> list[ProjectRef] | None:
    """`?project=` values as project references: a query string has no types, so digits name an id."""
    return [int(v) if v.isascii() and v.isdigit() else v for v in values] if values else None


@router.get("", response_model=TasksPublic, responses=responses(404, 422))
async def list_tasks(
    uow: UowDep,
    actor: CurrentActor,
    status_: Annotated[list[StatusFilter] | None, Query(alias="status", description="default open and completed; "
                                                        "deleted lists the trash")] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    tag: Annotated[list[Text] | None, Query(max_length=TAGS_PER_TASK_MAX, description="at most 20")] = None,
    tag_mode: Annotated[Literal["any", "all"], Query()] = "any",
    due_before: Annotated[Text | None, Query(description="datetime or date (local to you without offset)")] = None,
    due_after: Annotated[Text | None, Query(description="datetime or date (local to you without offset)")] = None,
    overdue: bool | None = None,
    due_today: bool | None = None,
    has_due: bool | None = None,
    q: Annotated[Text | None, Query(max_length=500, description="each word a prefix in title or description")] = None,
    project: Annotated[list[Text] | None, Query(max_length=PROJECTS_FILTER_MAX, description="tasks of any of these "
                                                "projects: an id (digits) or a name (any case); at most 20")] = None,
    parent_id: Annotated[int | None, Query(ge=1, le=ID_MAX, description="only the direct subtasks of this task")
                         ] = None,
    top_level: Annotated[bool | None, Query(description="true: only tasks without a parent; false: only subtasks")
                         ] = None,
    sort: SortKey = "due",
    order: SortOrder | None = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    cursor: Annotated[Text | None, Query()] = None,
) -> TasksPublic:
    """List your tasks with filters, sort and a cursor; `count` is the total matching."""
    query = uc.task_query(
        status=status_, priority=priority, tag=tag, tag_mode=tag_mode, due_before=due_before, due_after=due_after,
        overdue=overdue, due_today=due_today, has_due=has_due, q=q, project=project_refs(project), parent_id=parent_id,
        top_level=top_level, sort=sort, order=order, limit=limit, cursor=cursor,
    )
    page = await uc.list_tasks(uow, actor, query)
    return TasksPublic(data=page.data, count=page.count, count_exact=page.count_exact, next_cursor=page.next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskView, responses=responses(404, 409, 422))
async def create_task(
    uow: UowDep,
    actor: CurrentActor,
    body: TaskCreate,
    idempotency_key: IdempotencyKey = None,
) -> TaskView:
    """Create a task (in the Inbox unless `project` or `parent_id` says otherwise); the same Idempotency-Key with
    the same body returns the first task."""
    return await uc.create_task(uow, actor, body, idempotency_key=idempotency_key)


@router.post("/quick", status_code=status.HTTP_201_CREATED, response_model=TaskView,
             responses=responses(404, 409, 422))
async def quick_add(uow: UowDep, actor: CurrentActor, body: QuickAdd, idempotency_key: IdempotencyKey = None
                    ) -> TaskView:
    """Create a task from one line: "buy stamps tomorrow at 9am p1 #errands every week" (grammar in the README);
    it goes to the project its `#name` names, else to `project` (e.g. the list shown), else to the Inbox."""
    return await uc.quick_add(uow, actor, body.text, project=body.project, idempotency_key=idempotency_key)


@router.post("/quick/preview", response_model=QuickAddPreview, responses=responses(422))
async def preview_quick_add(uow: UowDep, actor: CurrentActor, body: QuickAddText) -> QuickAddPreview:
    """What /quick would create from the text, with the chips it read; nothing is saved."""
    return await uc.preview_quick_add(uow, actor, body.text)


@router.post("/bulk", response_model=BulkResult, responses=responses(404, 409, 422))
async def bulk(uow: UowDep, actor: CurrentActor, body: BulkRequest) -> BulkResult:
    """Complete, delete, set the priority of, or tag up to 50 tasks at once; all or nothing. Completing a parent
    with open subtasks (not in `ids`) needs subtasks=complete; deleting one trashes its subtasks too."""
    if body.action == "complete":
        return await uc.bulk_complete(uow, actor, body.ids, subtasks=body.subtasks)
    if body.action == "delete":
        return await uc.bulk_delete(uow, actor, body.ids)
    if body.action == "set_priority":
        return await uc.bulk_set_priority(uow, actor, body.ids, body.priority)
    return await uc.bulk_add_tags(uow, actor, body.ids, body.tags or [])


@router.get("/{task_id}", response_model=TaskView, responses=responses(404))
async def get_task(uow: UowDep, actor: CurrentActor, task_id: TaskId) -> TaskView:
    """One task with its direct subtasks (a task in the trash answers 404 until restored)."""
    return await uc.get_task(uow, actor, task_id)


@router.patch("/{task_id}", response_model=TaskView, responses=responses(404, 409, 422))
async def update_task(uow: UowDep, actor: CurrentActor, task_id: TaskId, body: TaskPatch) -> TaskView:
    """Change the fields given; null clears `due_at` or `recurrence`; others stay as they are. `project` and
    `parent_id` move the task as /move does."""
    return await uc.update_task(uow, actor, task_id, body.changes(), expected_version=body.version)


@router.post("/{task_id}/move", response_model=TaskView, responses=responses(404, 409, 422))
async def move_task(uow: UowDep, actor: CurrentActor, task_id: TaskId, body: TaskMoveBody) -> TaskView:
    """Move a task with its subtasks: to a project (top-level there) and/or under a parent (into its project)."""
    return await uc.move_task(uow, actor, task_id, body.changes(), expected_version=body.version)


@router.delete("/{task_id}", response_model=TaskView, responses=responses(404, 409))
async def delete_task(uow: UowDep, actor: CurrentActor, task_id: TaskId, body: OptionalVersion = None) -> TaskView:
    """Move a task to the trash with its subtasks (restore it with /restore)."""
    return await uc.delete_task(uow, actor, task_id, expected_version=body.version if body else None)


@router.post("/{task_id}/complete", response_model=TaskView, responses=responses(404, 409, 422))
async def complete_task(uow: UowDep, actor: CurrentActor, task_id: TaskId, body: OptionalComplete = None
                        ) -> TaskView:
    """Mark a task completed; with open subtasks, 409 unless `subtasks` is complete (then they are completed too)."""
    body = body or CompleteBody()
    return await uc.complete_task(uow, actor, task_id, expected_version=body.version, subtasks=body.subtasks)


@router.post("/{task_id}/reopen", response_model=TaskView, responses=responses(404, 409))
async def reopen_task(uow: UowDep, actor: CurrentActor, task_id: TaskId, body: OptionalVersion = None) -> TaskView:
    """Mark a completed task open again."""
    return await uc.reopen_task(uow, actor, task_id, expected_version=body.version if body else None)


@router.post("/{task_id}/restore", response_model=TaskView, responses=responses(404, 409, 422))
async def restore_task(uow: UowDep, actor: CurrentActor, task_id: TaskId, body: OptionalVersion = None) -> TaskView:
    """Take a task out of the trash with the subtasks deleted with it."""
    return await uc.restore_task(uow, actor, task_id, expected_version=body.version if body else None)


