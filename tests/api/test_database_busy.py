"""A write that waits out its budget for SQLite's write lock answers 503 with Retry-After, saves nothing, and the
same request succeeds once the lock is free (it used to be a 500, seen under the benchmark's overload)."""

from __future__ import annotations

import httpx
import pytest

from domain import db as db_module
from domain.uow import UnitOfWork
from tests.api.conftest import User, assert_problem

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL writes do not queue


async def test_a_write_that_waits_out_the_lock_is_a_503_and_nothing_is_saved(
    uow: UnitOfWork, client: httpx.AsyncClient, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "BUSY_BUDGET_SECONDS", 0.2)
    async with uow.write():  # another write holds this process's turn to write for longer than the budget
        busy = await client.post("/api/v1/tasks", json={"title": "Pay rent"}, headers=alice.headers)
    body = assert_problem(busy, 503)
    assert busy.headers["retry-after"] == "1" and body["type"].endswith("/database_busy")
    assert "nothing was saved" in str(body["detail"])
    listed = await client.get("/api/v1/tasks", headers=alice.headers)
    assert listed.json()["count"] == 0
    again = await client.post("/api/v1/tasks", json={"title": "Pay rent"}, headers=alice.headers)
    assert again.status_code == 201, again.text
