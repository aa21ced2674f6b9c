"""The task service's handler (in the web host): creates a recurring task's successor, exactly once."""

from __future__ import annotations

import logging

from domain.errors import TaskNotFound, UserNotFound
from domain.events import NextOccurrenceRequestedV1
from domain.uow import Tx, UnitOfWork
from domain.usecases import actor_for, create_successor
from services.consumer import Event, decode, require_user

logger = logging.getLogger(__name__)


async def on_next_occurrence_requested(tx: Tx, event: Event, *, uow: UnitOfWork) -> None:
    """On `recurrence.next-requested`, create the successor inside the delivering transaction."""
    command = decode(event, NextOccurrenceRequestedV1)
    await require_user(tx, command.user_id)  # a missing user is poison (dead letter), not a retry loop
    joined = uow.joined(tx)  # the successor, its event and the inbox row commit together
    try:
        actor = await actor_for(joined, user_id=command.user_id)
        successor = await create_successor(joined, actor, command.predecessor_id)
    except (UserNotFound, TaskNotFound):  # deleted meanwhile
        logger.info("task service: task %s of user %s is gone; no successor", command.predecessor_id, command.user_id)
        return
    if successor is not None:
        logger.info("task service: task %s follows task %s", successor.id, command.predecessor_id)
