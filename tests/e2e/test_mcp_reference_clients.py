"""MCP clients nobody here wrote, against the real server: the MCP Inspector CLI (npm
@modelcontextprotocol/inspector 0.15.0) over stdio and over HTTP, and the MCP conformance suite (npm
@modelcontextprotocol/conformance 0.1.12) against the HTTP endpoint. `make test` installs both into .cache/npm
(scripts/provision-test-services) and exports their bin directory as TODO_AGENT_NPM_BIN; nothing is downloaded here.

Neither tool can send a bearer token over HTTP (this Inspector refuses `--header` for URLs), so HTTP goes through
a small reverse proxy, started in this test, that adds `Authorization: Bearer <token>` and passes everything else
through unchanged, the client's Host and Origin headers included, so the server's own Host/Origin checks still
judge what the client sent. The product has no switch that turns authentication off."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.e2e.conftest import TOOLS, Servers, World, mcp_message, post_initialize
from tests.infra import TODO_AGENT, require_or_skip

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PINNED = {"@modelcontextprotocol/inspector": "0.15.0", "@modelcontextprotocol/conformance": "0.1.12"}

# The server scenarios of conformance 0.1.12 that apply to this server. The others (`conformance list`) test
# the suite's own reference fixtures, which a real server does not have: tools named test_simple_text,
# test_image_content, test_reconnection, json_schema_2020_12_tool, ...; resources test://static-text and
# test://template/{id}/data; prompts test_simple_prompt, ...; or capabilities this server does not declare
# (logging, completions, resource subscriptions). tools-call-simple-text and tools-call-error "pass" here only
# because calling their missing tool gives an isError result with text, which proves nothing, so they are left out.
SCENARIOS = [
    "server-initialize",
    "ping",
    "tools-list",
    "dns-rebinding-protection",
    "server-sse-multiple-streams",
    "resources-list",
    "prompts-list",
]


# ---- the npm tools -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NpmTools:
    inspector: Path
    conformance: Path


@pytest.fixture(scope="session")
def npm_tools() -> NpmTools:
    """The pinned, already installed binaries (a missing one skips, or fails under CI=true)."""
    bin_dir = Path(os.environ.get("TODO_AGENT_NPM_BIN") or REPO / ".cache" / "npm" / "node_modules" / ".bin")
    hint = "run `make test` or scripts/provision-test-services, which install it into .cache/npm"
    if shutil.which("node") is None:
        require_or_skip(f"node is not installed: {hint}")
    for package, version in PINNED.items():
        manifest = bin_dir.parent / package / "package.json"
        found = json.loads(manifest.read_text())["version"] if manifest.is_file() else None
        if found != version:
            require_or_skip(f"{package}@{version} is not installed in {bin_dir.parent} (found {found}): {hint}")
    tools = NpmTools(inspector=bin_dir / "mcp-inspector", conformance=bin_dir / "conformance")
    for binary in (tools.inspector, tools.conformance):
        if not os.access(binary, os.X_OK):
            require_or_skip(f"{binary} is missing: {hint}")
    return tools


# ---- the header-adding proxy -------------------------------------------------------------------------------------

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade"}


def proxy_app(upstream: str, token: str) -> Starlette:
    """Forwards every request to `upstream` as it came (method, path, query, headers, body), with the bearer
    token added, and streams the answer back as it comes (SSE included)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(base_url=upstream, timeout=httpx.Timeout(30, read=None)) as client:
            app.state.client = client
            yield

    async def forward(request: Request) -> Response:
        client: httpx.AsyncClient = request.app.state.client
        headers = [(name, value) for name, value in request.headers.items()
                   if name not in HOP_BY_HOP | {"authorization", "content-length"}]
        headers.append(("authorization", f"Bearer {token}"))
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        sent = client.build_request(request.method, target, headers=headers, content=await request.body())
        answer = await client.send(sent, stream=True)

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.aiter_raw():
                    yield chunk
            finally:
                await answer.aclose()

        response = StreamingResponse(body(), status_code=answer.status_code)
        response.raw_headers = [(name, value) for name, value in answer.headers.raw
                                if name.decode("latin-1").lower() not in HOP_BY_HOP]
        return response

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "DELETE"])], lifespan=lifespan)


@dataclass
class Proxy:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


@pytest.fixture(scope="module")
def proxy(servers: Servers, world: World) -> Iterator[Proxy]:
    """The proxy in front of the web host's /mcp with ada's personal token, served by uvicorn in a thread."""
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(proxy_app(servers.web.base, world.ada.token), log_config=None,
                                           log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="mcp-proxy", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the proxy did not start"
            time.sleep(0.02)
        yield Proxy(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def test_the_proxy_only_adds_the_token(servers: Servers, proxy: Proxy) -> None:
    """Straight to the server without a token: 401. Through the proxy: accepted, and a foreign Host it passes on
    is still refused by the server itself."""
    base = proxy.url.removesuffix("/mcp")
    assert post_initialize(servers.web.base).status_code == 401
    accepted = post_initialize(base)
    assert accepted.status_code == 200 and mcp_message(accepted)["result"]["serverInfo"]["name"] == "todo-agent"
    assert post_initialize(base, Host="evil.example").status_code == 421


# ---- MCP Inspector CLI -------------------------------------------------------------------------------------------


def start_inspector(npm_tools: NpmTools, world: World, *args: str) -> subprocess.Popen[str]:
    """`mcp-inspector --cli ...` (the environment carries TODO_AGENT_DATA_DIR to a stdio server it starts)."""
    return subprocess.Popen([str(npm_tools.inspector), "--cli", *args], env=world.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def printed_json(process: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait for an Inspector run and return the JSON result it printed."""
    try:
        out, err = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, f"{process.args!r} exited with {process.returncode}:\n{err}\n{out}"
    result: dict[str, Any] = json.loads(out)
    return result


def inspect_together(npm_tools: NpmTools, world: World, *runs: list[str]) -> list[dict[str, Any]]:
    """Several Inspector runs at once (each starts node twice, and a stdio one also starts todo-agent)."""
    processes: list[subprocess.Popen[str]] = []
    try:
        for args in runs:
            processes.append(start_inspector(npm_tools, world, *args))
        return [printed_json(process) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()


def assert_lists_the_catalogue(listed: dict[str, Any]) -> None:
    tools = listed["tools"]
    assert {tool["name"] for tool in tools} == TOOLS
    assert all(tool["description"] and tool["inputSchema"]["type"] == "object" for tool in tools)
    assert all("outputSchema" in tool and "annotations" in tool for tool in tools)


def assert_added(added: dict[str, Any], title: str) -> int:
    assert added["isError"] is False, added
    assert added["structuredContent"]["title"] == title and added["structuredContent"]["status"] == "open"
    task_id: int = added["structuredContent"]["id"]
    return task_id


def assert_listed(listed: dict[str, Any], task_id: int, title: str) -> None:
    assert listed["isError"] is False, listed
    assert {"id": task_id, "title": title} in [{"id": row["id"], "title": row["title"]}
                                               for row in listed["structuredContent"]["data"]]
    assert title in listed["content"][0]["text"]


def readme_desktop_config(world: World, path: Path) -> Path:
    """README's Claude Desktop configuration block as written, with its two placeholders filled in."""
    readme = (REPO / "README.md").read_text()
    blocks = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", readme, re.S) if "mcpServers" in block]
    assert blocks, "README has no ```json block with mcpServers (issue 4, point 7)"
    config = blocks[0]
    entry = config["mcpServers"]["todo-agent"]
    assert entry["command"].endswith("/.venv/bin/todo-agent"), entry
    entry["command"] = str(TODO_AGENT)
    entry["args"] = [world.ada.email if arg == "you@example.com" else arg for arg in entry["args"]]
    path.write_text(json.dumps(config))
    return path


def test_inspector_over_stdio(npm_tools: NpmTools, world: World, tmp_path: Path) -> None:
    """tools/list and add_task as `--cli todo-agent mcp --user EMAIL`, then list_tasks as README's Claude Desktop
    configuration block (through `--config/--server`) shows the added task."""
    title = f"inspector stdio {uuid.uuid4().hex[:8]}"
    server = [str(TODO_AGENT), "mcp", "--user", world.ada.email]
    listed, added = inspect_together(
        npm_tools, world,
        [*server, "--method", "tools/list"],
        [*server, "--method", "tools/call", "--tool-name", "add_task", "--tool-arg", f"title={title}"],
    )
    assert_lists_the_catalogue(listed)
    task_id = assert_added(added, title)
    config = readme_desktop_config(world, tmp_path / "claude_desktop_config.json")
    (tasks,) = inspect_together(npm_tools, world, ["--config", str(config), "--server", "todo-agent",
                                                   "--method", "tools/call", "--tool-name", "list_tasks"])
    assert_listed(tasks, task_id, title)


def test_inspector_over_http_through_the_proxy(npm_tools: NpmTools, world: World, proxy: Proxy) -> None:
    title = f"inspector http {uuid.uuid4().hex[:8]}"
    http = [proxy.url, "--transport", "http"]
    listed, added = inspect_together(
        npm_tools, world,
        [*http, "--method", "tools/list"],
        [*http, "--method", "tools/call", "--tool-name", "add_task", "--tool-arg", f"title={title}"],
    )
    assert_lists_the_catalogue(listed)
    task_id = assert_added(added, title)
    (tasks,) = inspect_together(npm_tools, world, [*http, "--method", "tools/call", "--tool-name", "list_tasks"])
    assert_listed(tasks, task_id, title)


# ---- MCP conformance suite ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioRun:
    exit_code: int
    output: str
    checks: list[dict[str, Any]]


@pytest.fixture(scope="module")
def conformance(npm_tools: NpmTools, world: World, proxy: Proxy, tmp_path_factory: pytest.TempPathFactory
                ) -> dict[str, ScenarioRun]:
    """Every scenario in SCENARIOS, run at once against the HTTP endpoint through the proxy."""
    out_root = tmp_path_factory.mktemp("conformance")
    processes: dict[str, subprocess.Popen[str]] = {}
    runs: dict[str, ScenarioRun] = {}
    try:
        for scenario in SCENARIOS:
            processes[scenario] = subprocess.Popen(
                [str(npm_tools.conformance), "server", "--url", proxy.url, "--scenario", scenario,
                 "-o", str(out_root / scenario)],
                env=world.env | {"NO_COLOR": "1"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for scenario, process in processes.items():
            output, _ = process.communicate(timeout=90)
            found = sorted((out_root / scenario).glob("*/checks.json"))
            checks = json.loads(found[-1].read_text()) if found else []
            runs[scenario] = ScenarioRun(process.returncode, output, checks)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    return runs


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conformance_scenario_passes(conformance: dict[str, ScenarioRun], scenario: str) -> None:
    run = conformance[scenario]
    failed = [check for check in run.checks if check["status"] not in {"SUCCESS", "INFO", "WARNING"}]
    assert run.exit_code == 0 and not failed, f"{scenario}: exit {run.exit_code}, failed {failed}\n{run.output}"
    assert any(check["status"] == "SUCCESS" for check in run.checks), run.output
    assert re.search(r"Passed: (\d+)/\1, 0 failed", run.output), run.output
