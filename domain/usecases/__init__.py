"""The use-case layer: plain async functions over a unit of work, each acting for one user. REST and MCP call these."""

from domain.usecases.accounts import (
    TokenView,
    UserView,
    actor_for,
    authenticate,
    authenticate_token,
    change_password,
    create_api_token,
    create_user,
    get_user,
    list_tokens,
    reset_password,
    revoke_token,
    set_timezone,
    user_emails,
)
from domain.usecases.bulk import bulk_add_tags, bulk_complete, bulk_delete, bulk_set_priority
from domain.usecases.callers import authenticate_bearer
from domain.usecases.common import Actor
from domain.usecases.fields import (
    add_tags,
    clear_due_date,
    clear_recurrence,
    remove_tags,
    set_due_date,
    set_priority,
    set_recurrence,
    set_reminders,
)
from domain.usecases.now import whats_now
from domain.usecases.outbox import OutboxStatus, outbox_status, prune_outbox
from domain.usecases.projects import (
    archive_project,
    create_project,
    delete_project,
    get_project,
    list_projects,
    rename_project,
    unarchive_project,
    update_project,
)
from domain.usecases.queries import list_tasks, search_tasks, task_query
from domain.usecases.quick import preview_quick_add, quick_add
from domain.usecases.recurring import create_successor, next_due, preview_recurrence
from domain.usecases.sessions import (
    Revoked,
    SessionGrant,
    SessionView,
    authenticate_session,
    list_sessions,
    revoke_session,
    rotate_refresh,
    sign_out_everywhere,
    start_session,
)
from domain.usecases.tags import delete_tag, list_tags, rename_tag
from domain.usecases.tasks import (
    complete_task,
    create_task,
    delete_task,
    get_task,
    move_task,
    reopen_task,
    restore_task,
    update_task,
)
from domain.usecases.undo import undo_last_change

__all__ = [
    "OutboxStatus",
    "outbox_status",
    "prune_outbox",
    "authenticate_bearer",
    "task_query",
    "Actor", "Revoked", "SessionGrant", "SessionView", "TokenView", "UserView", "actor_for", "add_tags",
    "authenticate", "authenticate_session", "authenticate_token", "bulk_add_tags", "bulk_complete", "bulk_delete",
    "bulk_set_priority", "change_password", "clear_due_date", "clear_recurrence", "complete_task",
    "create_api_token", "create_successor", "create_task", "create_user", "delete_tag", "delete_task", "get_task",
    "get_user", "list_sessions", "list_tags", "list_tasks", "list_tokens", "next_due", "preview_quick_add",
    "preview_recurrence", "quick_add",
    "remove_tags", "rename_tag", "reopen_task", "reset_password", "restore_task", "revoke_session", "revoke_token",
    "rotate_refresh", "search_tasks", "set_due_date", "set_priority", "set_recurrence", "set_reminders",
    "set_timezone", "sign_out_everywhere", "start_session", "undo_last_change", "update_task", "user_emails",
    "whats_now",
    "archive_project", "create_project", "delete_project", "get_project", "list_projects", "move_task",
    "rename_project", "unarchive_project", "update_project",
]
