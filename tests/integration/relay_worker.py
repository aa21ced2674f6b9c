"""A relay process for the two-process test: a runtime built by the bootstrap (in-process bus, as `todo-agent serve`
builds it) that runs its relay while it holds the runtime lease, logging what it sends.

python -m tests.integration.relay_worker --db URL --holder NAME --log FILE [--ttl 1 --renew 0.2 --poll 0.05]

The lease holder is named `NAME:<host>:<pid>:<suffix>` (the bootstrap's holder id for the role NAME). Each event the
relay publishes on `tasks` becomes a line `<event id> <NAME>` in FILE, flushed and fsynced by a subscriber on the
bus before the relay marks it sent. `FILE.ready` appears once the process is set up. SIGTERM is a clean exit (the
lease is released).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any

from domain.events import TOPIC_TASKS
from runtime.bootstrap import build_runtime, close_runtime
from runtime.lease import PRIORITY_CLIENT
from runtime.settings import Settings
from services.transport import InProcessBus

logger = logging.getLogger("relay_worker")


class FileLog:
    """A subscriber that appends one durable line per event to a file."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder

    async def __call__(self, event: dict[str, Any]) -> None:
        """Append `<event id> <holder>` and fsync it."""
        with self.path.open("a") as log:
            log.write(f"{event['id']} {self.holder}\n")
            log.flush()
            os.fsync(log.fileno())


async def serve(args: argparse.Namespace) -> None:
    """Hold the lease and relay until SIGTERM."""
    settings = Settings(data_dir=Path(f"{args.log}.data"), database_url=args.db, bus="inprocess",
                        lease_ttl_seconds=args.ttl, lease_renew_seconds=args.renew, relay_poll_seconds=args.poll)
    rt = build_runtime(settings, role=args.holder, priority=PRIORITY_CLIENT)
    assert isinstance(rt.publisher, InProcessBus)
    rt.publisher.subscribe(TOPIC_TASKS, FileLog(Path(args.log), args.holder), group="file-log")
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    Path(f"{args.log}.ready").touch()
    try:
        await rt.lease.run_while_leader(rt.relay.run)
    except asyncio.CancelledError:
        logger.info("%s stopped", args.holder)
    finally:
        await close_runtime(rt)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--holder", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--ttl", type=float, default=1.0)
    parser.add_argument("--renew", type=float, default=0.2)
    parser.add_argument("--poll", type=float, default=0.05)
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    asyncio.run(serve(parse()))
