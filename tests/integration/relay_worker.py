"""A relay process for the two-process test: runs the relay while it holds the runtime lease, logging what it sends.

python -m tests.integration.relay_worker --db URL --holder NAME --log FILE [--ttl 1 --renew 0.2 --poll 0.05]

Each published event becomes a line `<event id> <holder>` in FILE, flushed and fsynced before the relay marks it
sent. `FILE.ready` appears once the process is set up. SIGTERM is a clean exit (the lease is released).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from domain.db import Database
from domain.ports import OutboundMessage, Publisher
from domain.uow import UnitOfWork
from runtime.lease import PRIORITY_CLIENT, LeaseKeeper
from runtime.relay import Relay

logger = logging.getLogger("relay_worker")


class FileLogPublisher(Publisher):
    """Appends one durable line per message to a file."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder

    async def publish(self, message: OutboundMessage) -> None:
        """Append `<event id> <holder>` and fsync it."""
        with self.path.open("a") as log:
            log.write(f"{message.event_id} {self.holder}\n")
            log.flush()
            os.fsync(log.fileno())


async def serve(args: argparse.Namespace) -> None:
    """Hold the lease and relay until SIGTERM."""
    db = Database(args.db)
    uow = UnitOfWork(db, source=f"todo-agent/{args.holder}")
    keeper = LeaseKeeper(uow, holder=args.holder, priority=PRIORITY_CLIENT, ttl=args.ttl, renew_every=args.renew)
    relay = Relay(uow, FileLogPublisher(Path(args.log), args.holder), poll_seconds=args.poll,
                  still_leader=keeper.still_held)
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    Path(f"{args.log}.ready").touch()
    try:
        await keeper.run_while_leader(relay.run)
    except asyncio.CancelledError:
        logger.info("%s stopped", args.holder)
    finally:
        await db.dispose()


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
