"""Typed domain errors, mapped once per surface (REST problem+json, MCP tool error, agent message)."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a message written for the person or model that made the call, and the field at fault."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """A value breaks a rule of the model (length, enum, count, format)."""

    code = "invalid_input"


class InvalidTimezone(InvalidInput):
    code = "invalid_timezone"


class InvalidDue(InvalidInput):
    code = "invalid_due"


class InvalidRecurrence(InvalidInput):
    """A recurrence rule that cannot be parsed; the message names the problem and shows a valid example."""

    code = "invalid_recurrence"


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"


class NotFound(DomainError):
    code = "not_found"


class TaskNotFound(NotFound):
    code = "task_not_found"

    def __init__(self, task_id: int) -> None:
        super().__init__(
            f"task {task_id} not found — call list_tasks or search_tasks to find its id", field="id"
        )
        self.task_id = task_id


class ProjectNotFound(NotFound):
    code = "project_not_found"

    def __init__(self, project: int | str, field: str = "project") -> None:
        named = f"project {project}" if isinstance(project, int) else f"project {project!r}"
        super().__init__(f"{named} not found — call list_projects to see your projects", field=field)
        self.project = project


class TagNotFound(NotFound):
    code = "tag_not_found"


class UserNotFound(NotFound):
    code = "user_not_found"


class Conflict(DomainError):
    code = "conflict"


class VersionConflict(Conflict):
    """The caller's expected version is not the task's (or project's) current version."""

    code = "version_conflict"

    def __init__(self, task_id: int, expected: int, actual: int, *, noun: str = "task") -> None:
        super().__init__(
            f"{noun} {task_id} is at version {actual}, not {expected}: it changed since you read it; "
            "fetch it again and retry with the new version",
            field="version",
        )
        self.task_id = task_id
        self.expected = expected
        self.actual = actual


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used with a different request; use a new key",
            field="idempotency_key",
        )


class AlreadyExists(Conflict):
    code = "already_exists"


class ProjectNameTaken(AlreadyExists):
    code = "project_name_taken"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"you already have a project named {name!r} (names are compared without case); choose another name "
            "or use that project",
            field="name",
        )


class ProjectArchived(Conflict):
    """An archived project takes no new tasks and no moves."""

    code = "project_archived"

    def __init__(self, name: str, field: str = "project") -> None:
        super().__init__(
            f"project {name!r} is archived: unarchive it first (unarchive_project) to add or move tasks into it",
            field=field,
        )


class InboxProtected(InvalidInput):
    """The Inbox always exists: it cannot be renamed, archived or deleted."""

    code = "inbox_protected"

    def __init__(self, action: str) -> None:
        super().__init__(
            f"the Inbox cannot be {action}: it always exists and holds new tasks by default; create a project "
            "(add_project) for tasks you want to group",
            field="project",
        )


class OpenSubtasks(Conflict):
    """Completing a task with open subtasks needs a choice."""

    code = "open_subtasks"

    def __init__(self, task_id: int, count: int) -> None:
        noun = "subtask" if count == 1 else "subtasks"
        super().__init__(
            f"task {task_id} has {count} open {noun}: pass subtasks='complete' to complete them with it, or "
            "complete them first",
            field="subtasks",
        )
        self.task_id = task_id
        self.count = count


class NothingToUndo(Conflict):
    code = "nothing_to_undo"


class AuthenticationFailed(DomainError):
    code = "authentication_failed"


class SessionEnded(AuthenticationFailed):
    """A login session that was ended: signed out, its password changed, signed out everywhere, or a reused
    refresh token (so the page can tell "signed out elsewhere" from "too old")."""

    code = "session_ended"


class SessionExpired(AuthenticationFailed):
    """A login session past its maximum age."""

    code = "session_expired"
