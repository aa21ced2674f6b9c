"""What feeds the live hub: task and project events and stored notifications, as the web host's transport delivers
them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from domain.events import PROJECT_EVENT_TYPES, REMINDER_DUE, TASK_EVENT_TYPES
from domain.uow import UnitOfWork
from services.consumer import Event
from services.notifications import NotificationView, notification_of_event
from web.live import NOTIFICATION, PROJECT_CHANGED, TASK_CHANGED, LiveHub

logger = logging.getLogger(__name__)

LiveHandler = Callable[[Event], Awaitable[None]]


def task_changed_feed(hub: LiveHub) -> LiveHandler:
    """A `tasks` consumer that tells the user's pages which task changed (id, type, version), and which project
    (`project.changed`: its list and counts changed, whoever changed them: another tab, the agent, an MCP client)."""

    async def on_task_event(event: Event) -> None:
        data = event.get("data")
        if event.get("type") in PROJECT_EVENT_TYPES and isinstance(data, dict):
            _show_project(hub, event, data)
            return
        if event.get("type") not in TASK_EVENT_TYPES or not isinstance(data, dict):
            return
        task = data.get("task") or {}
        user_id, task_id = data.get("user_id"), task.get("id")
        if not isinstance(user_id, int) or not isinstance(task_id, int):
            logger.warning("live: task event %s names no user or task; not shown", event.get("id"))
            return
        body = {"id": task_id, "type": event["type"], "version": task.get("version")}
        hub.publish(user_id, TASK_CHANGED, body, key=str(event.get("id")))

    return on_task_event


def _show_project(hub: LiveHub, event: Event, data: dict[str, object]) -> None:
    project = data.get("project")
    user_id = data.get("user_id")
    project_id = project.get("id") if isinstance(project, dict) else None
    if not isinstance(user_id, int) or not isinstance(project_id, int):
        logger.warning("live: project event %s names no user or project; not shown", event.get("id"))
        return
    version = project.get("version") if isinstance(project, dict) else None
    hub.publish(user_id, PROJECT_CHANGED, {"id": project_id, "type": event["type"], "version": version},
                key=str(event.get("id")))


def notification_feed(hub: LiveHub, uow: UnitOfWork) -> LiveHandler:
    """A `reminders` consumer that shows the notification stored for the reminder (it runs after the store)."""

    async def on_reminder_due(event: Event) -> None:
        if event.get("type") != REMINDER_DUE or not isinstance(event.get("id"), str):
            return
        found = await notification_of_event(uow, event["id"])
        if found is None:  # not stored (dead-lettered): nothing to show
            return
        show_notification(hub, event["id"], *found)

    return on_reminder_due


def show_notification(hub: LiveHub, event_id: str, user_id: int, view: NotificationView) -> None:
    """Send a stored notification to its user's pages (once per reminder event, whoever shows it first)."""
    hub.publish(user_id, NOTIFICATION, view.model_dump(mode="json"), key=event_id)
