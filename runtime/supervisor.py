"""`todo-agent serve --workers N`: the parent binds the socket once, then runs N worker processes serving it.

Each worker is started with multiprocessing's "spawn" context (a fresh interpreter: nothing of the parent's event
loop, threads or database pool is inherited) and receives the listening socket; it builds a full runtime and app
(runtime.apps.create_app) and serves the socket with uvicorn, and the kernel spreads the connections over the
workers. Every worker competes for the lease (keyed per process), so only one runs the relay, the services and
the scheduler; every worker's live hub follows the outbox (runtime.wiring.live_tail).

The parent restarts a worker that dies after it started serving (a worker that dies again before serving is
retried with a growing delay); if a worker of the first set fails to start, the parent stops them all and exits
1, as a single process would. SIGINT and SIGTERM are forwarded to the workers as SIGTERM (a graceful stop: each
finishes its requests and releases the lease); a worker still running after `stop_seconds` is killed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.synchronize import Event as EventType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

    from runtime.settings import Settings

logger = logging.getLogger(__name__)

STOP_SECONDS = 30.0  # a worker's graceful stop: uvicorn's 10 s for open requests, then the lifespan's shutdown
RESTART_DELAYS = (0.5, 30.0)  # first and longest wait before starting a slot's worker again after it failed to start
TICK = 0.2  # seconds between the parent's looks at its signals


class WorkerStartFailed(Exception):
    """A worker of the first set exited before it served."""


@dataclass
class Slot:
    """One of the N workers: its current process and whether it has served yet."""

    index: int
    process: SpawnProcess | None = None
    ready: EventType | None = None
    started_at: float = 0.0
    served: bool = False  # whether any worker of this slot has served: then a failure is not the configuration's
    delay: float = RESTART_DELAYS[0]
    not_before: float = 0.0  # monotonic time before which the slot is not restarted
    history: list[int] = field(default_factory=list)  # pids of this slot's processes


class Supervisor:
    """Runs `count` workers over `sock` until SIGINT/SIGTERM."""

    def __init__(self, settings: Settings, sock: socket.socket, count: int, *, log_level: int,
                 stop_seconds: float = STOP_SECONDS) -> None:
        self.settings = settings.model_copy(update={"web_workers": count})
        self.sock = sock
        self.log_level = log_level
        self.stop_seconds = stop_seconds
        self.context: SpawnContext = multiprocessing.get_context("spawn")
        self.slots = [Slot(i) for i in range(count)]
        self.stopping = False

    def run(self) -> None:
        """Serve until a signal stops the workers (return) or a first worker fails to start (WorkerStartFailed)."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for slot in self.slots:
                self._start(slot)
            while not self.stopping:
                self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def pids(self) -> list[int]:
        """The workers' current process ids."""
        return [slot.process.pid for slot in self.slots if slot.process is not None and slot.process.pid is not None]

    def _on_signal(self, _signal: int, _frame: object) -> None:
        self.stopping = True

    def _start(self, slot: Slot) -> None:
        slot.ready = self.context.Event()
        slot.process = self.context.Process(
            target=worker_main, args=(self.settings, self.sock, self.log_level, slot.ready),
            name=f"todo-agent-worker-{slot.index + 1}", daemon=False,
        )
        slot.process.start()
        slot.started_at = time.monotonic()
        assert slot.process.pid is not None
        slot.history.append(slot.process.pid)
        logger.info("worker %d started (pid %d)", slot.index + 1, slot.process.pid)

    def _watch(self) -> None:
        sentinels = [slot.process.sentinel for slot in self.slots if slot.process is not None]
        wait(sentinels, timeout=TICK)
        now = time.monotonic()
        for slot in self.slots:
            if self.stopping:
                return
            if slot.process is None:
                if now >= slot.not_before:
                    self._start(slot)
                continue
            if slot.ready is not None and slot.ready.is_set():
                slot.served = True
            if slot.process.is_alive():
                continue
            self._ended(slot, now)

    def _ended(self, slot: Slot, now: float) -> None:
        assert slot.process is not None and slot.ready is not None
        code, pid = slot.process.exitcode, slot.process.pid
        served_now = slot.ready.is_set()
        slot.process.close()
        slot.process = None
        if served_now:  # it served, then died: start another at once
            slot.served, slot.delay = True, RESTART_DELAYS[0]
            logger.warning("worker %d (pid %s) died (%s); starting another", slot.index + 1, pid, _exit(code))
            self._start(slot)
            return
        if not slot.served:  # of the first set: the settings, the app or the database is wrong
            raise WorkerStartFailed(f"a worker exited before serving ({_exit(code)}); see its log above")
        logger.warning("worker %d (pid %s) failed to start (%s); trying again in %.1f s",
                       slot.index + 1, pid, _exit(code), slot.delay)
        slot.not_before = now + slot.delay
        slot.delay = min(slot.delay * 2, RESTART_DELAYS[1])

    def _stop_all(self) -> None:
        running = [slot.process for slot in self.slots if slot.process is not None and slot.process.is_alive()]
        for process in running:
            if process.pid is not None:
                _signal(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_seconds
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning("worker pid %s did not stop in %.0f s; killing it", process.pid, self.stop_seconds)
                process.kill()
                process.join()


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:  # it ended meanwhile
        pass


def _exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


def worker_main(settings: Settings, sock: socket.socket, log_level: int, ready: EventType) -> None:
    """A worker process: log like the parent, build the runtime and app, serve `sock` until SIGTERM."""
    from runtime.cli.support import LOG_FORMAT, run_event_loop

    logging.basicConfig(stream=sys.stderr, level=log_level, format=f"%(process)d {LOG_FORMAT}")
    if log_level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    run_event_loop(_serve_worker(settings, sock, ready))


async def _serve_worker(settings: Settings, sock: socket.socket, ready: EventType) -> None:
    from runtime.apps import create_app
    from runtime.bootstrap import build_runtime
    from runtime.cli.support import serve_app
    from runtime.lease import PRIORITY_WEB

    app = create_app(build_runtime(settings, role="web", priority=PRIORITY_WEB))
    await serve_app(app, sock, settings, on_started=ready.set)
