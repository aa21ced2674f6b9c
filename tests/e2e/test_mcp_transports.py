"""The MCP server over its real transports, as real processes: `todo-agent mcp` over stdio and the streamable HTTP
endpoint of `todo-agent serve` and of `todo-agent mcp --transport http`, each driven by the SDK's `mcp.Client`
in both protocol generations it speaks ("auto" negotiates 2026-07-28, "legacy" does the 2025-11-25 initialize
handshake), plus raw JSON-RPC and raw HTTP where the wire itself is the point."""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

from domain.access_tokens import issue_access_token
from tests.e2e.conftest import INITIALIZE, TOOLS, Servers, User, World, mcp_message, post_initialize, run_together
from tests.infra import TODO_AGENT, clean_env

pytestmark = pytest.mark.slow

Mode = Literal["auto", "legacy"]
NEGOTIATED = {"auto": "2026-07-28", "legacy": "2025-11-25"}


def stdio_server(world: World, *, user: str | None = None, token: str | None = None) -> StdioServerParameters:
    """What a desktop client's configuration says: the command, its arguments and a few variables."""
    env = {"TODO_AGENT_DATA_DIR": str(world.data_dir)} | ({"TODO_AGENT_TOKEN": token} if token else {})
    return StdioServerParameters(command=str(TODO_AGENT), args=["mcp", *(["--user", user] if user else [])],
                                 env=env)


@asynccontextmanager
async def http_session(url: str, token: str, mode: Mode) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


async def use_the_tools(client: Client, who: User, label: str) -> int:
    """The catalogue is complete, the session acts as `who`, and a task added is then listed; returns its id."""
    assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
    me = await client.call_tool("whoami", {})
    assert not me.is_error and me.structured_content is not None
    assert me.structured_content["email"] == who.email and me.structured_content["user_id"] == who.id
    title = f"{label} {uuid.uuid4().hex[:8]}"
    added = await client.call_tool("add_task", {"title": title})
    assert not added.is_error and added.structured_content is not None, added.content
    listed = await client.call_tool("list_tasks", {"limit": 100})
    assert listed.structured_content is not None
    assert title in {row["title"] for row in listed.structured_content["data"]}
    task_id: int = added.structured_content["id"]
    return task_id


# ---- stdio -------------------------------------------------------------------------------------------------------


async def test_stdio_in_both_protocol_modes_and_with_a_token(world: World) -> None:
    """--user in "auto" and "legacy" mode, and TODO_AGENT_TOKEN instead of --user (acting as the token's user)."""

    async def session(params: StdioServerParameters, mode: Mode, who: User, label: str) -> None:
        async with Client(params, mode=mode) as client:
            assert client.protocol_version == NEGOTIATED[mode]
            await use_the_tools(client, who, label)

    await asyncio.gather(
        session(stdio_server(world, user=world.ada.email), "auto", world.ada, "stdio auto"),
        session(stdio_server(world, user=world.ada.email), "legacy", world.ada, "stdio legacy"),
        session(stdio_server(world, token=world.bob.token), "auto", world.bob, "stdio token"),
    )


def test_stdio_refuses_to_start_without_a_user_and_says_why_on_stderr(world: World) -> None:
    env = clean_env(data_dir=str(world.data_dir))
    neither, bad_token, unknown = run_together(
        (["mcp"], env, ""),
        (["mcp"], env | {"TODO_AGENT_TOKEN": "tat_not-a-real-token"}, ""),
        (["mcp", "--user", "nobody@example.com"], env, ""),
    )
    for result in (neither, bad_token, unknown):
        assert result.returncode != 0, result
        assert result.stdout == "", f"a stdio server must write only protocol to stdout: {result.stdout!r}"
        assert "Traceback" not in result.stderr
    assert neither.stderr.startswith("error: ") and "--user EMAIL" in neither.stderr
    assert "TODO_AGENT_TOKEN" in neither.stderr
    assert "token" in bad_token.stderr
    assert "nobody@example.com" in unknown.stderr


class StdioPeer:
    """`todo-agent mcp` as a subprocess spoken to in raw JSON-RPC lines; keeps every stdout line it read."""

    def __init__(self, args: list[str], env: dict[str, str], stderr: Path) -> None:
        self._stderr = stderr.open("wb")
        self.process = subprocess.Popen([str(TODO_AGENT), *args], env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._stderr)
        self.lines: list[bytes] = []
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        self.process.stdin.flush()

    def answer(self, request_id: int, timeout: float = 30.0) -> dict[str, Any]:
        """Read stdout lines until the response to `request_id`."""
        while True:
            line = self._queue.get(timeout=timeout)
            assert line is not None, "the server closed stdout"
            self.lines.append(line)
            message = parse_json_rpc(line)
            if message.get("id") == request_id:
                return message

    def close_stdin_and_wait(self, timeout: float = 20.0) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)
        return code

    def kill(self) -> None:
        try:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        finally:
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe is not None and not pipe.closed:
                    try:
                        pipe.close()
                    except BrokenPipeError:
                        pass
            self._stderr.close()


def parse_json_rpc(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        raise AssertionError(f"stdout line is not JSON: {line!r}") from None
    assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", f"not JSON-RPC 2.0: {line!r}"
    assert "id" in message or "method" in message, f"neither a request, a response nor a notification: {line!r}"
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    return message


def test_stdio_writes_nothing_but_json_rpc_to_stdout(world: World, tmp_path: Path) -> None:
    peer = StdioPeer(["mcp", "--user", world.ada.email], world.env | {"TODO_AGENT_LOG_LEVEL": "DEBUG"},
                     tmp_path / "stderr")
    try:
        peer.send(INITIALIZE)
        initialized = peer.answer(1)
        assert initialized["result"]["serverInfo"]["name"] == "todo-agent"
        peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        peer.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert {tool["name"] for tool in peer.answer(2)["result"]["tools"]} == TOOLS
        peer.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                   "params": {"name": "add_task", "arguments": {"title": "raw json-rpc"}}})
        added = peer.answer(3)["result"]
        assert added["isError"] is False and added["structuredContent"]["title"] == "raw json-rpc"
        peer.send({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                   "params": {"name": "get_task", "arguments": {"task_id": 987654321}}})
        missing = peer.answer(4)["result"]
        assert missing["isError"] is True and "not found" in missing["content"][0]["text"]
        peer.send({"jsonrpc": "2.0", "id": 5, "method": "no/such-method"})
        assert peer.answer(5)["error"]["code"] == -32601
        assert peer.close_stdin_and_wait() == 0
    finally:
        peer.kill()
    for line in peer.lines:  # including whatever came after the last answer, up to exit
        parse_json_rpc(line)
    assert len(peer.lines) >= 5
    assert (tmp_path / "stderr").read_text().strip(), "logs (DEBUG asked for) should have gone to stderr"


# ---- HTTP --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_http_on_the_web_host_in_both_protocol_modes(servers: Servers, world: World, mode: Mode) -> None:
    async with http_session(f"{servers.web.base}/mcp", world.ada.token, mode) as client:
        assert client.protocol_version == NEGOTIATED[mode]
        await use_the_tools(client, world.ada, f"http {mode}")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_http_standalone_server_with_a_token(servers: Servers, world: World, mode: Mode) -> None:
    """`todo-agent mcp --transport http --port P` serves the same tools on its own."""
    async with http_session(f"{servers.standalone.base}/mcp", world.bob.token, mode) as client:
        await use_the_tools(client, world.bob, f"standalone {mode}")
    refused = post_initialize(servers.standalone.base)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer ")


def test_http_standalone_server_refuses_a_body_over_the_limit_before_reading_it(servers: Servers) -> None:
    """The standalone MCP server has the web host's 1 MiB body limit too (the SDK alone allows 4 MiB)."""
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "' + b"x" * (2 << 20) + b'"}}'
    answer = httpx.post(f"{servers.standalone.base}/mcp", content=body, timeout=30, headers={
        "content-type": "application/json", "accept": "application/json, text/event-stream"})
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


def mcp_jwt(world: World, user: User, *, audience: str = "mcp", ttl: timedelta = timedelta(minutes=5),
            secret: str | None = None) -> str:
    return issue_access_token(user.id, secret or world.secret(), now=datetime.now(UTC), ttl=ttl, audience=audience)


async def test_http_accepts_a_jwt_access_token_for_the_mcp_audience(servers: Servers, world: World) -> None:
    async with http_session(f"{servers.web.base}/mcp", mcp_jwt(world, world.bob), "auto") as client:
        await use_the_tools(client, world.bob, "jwt")


def test_http_refuses_missing_and_invalid_tokens_with_401_and_www_authenticate(
    servers: Servers, world: World
) -> None:
    refused = {
        "no token": None,
        "garbage": "tat_garbage",
        "not even a token shape": "x.y.z",
        "JWT for the api audience": mcp_jwt(world, world.ada, audience="api"),
        "expired JWT": mcp_jwt(world, world.ada, ttl=timedelta(seconds=-60)),
        "JWT signed with another secret": mcp_jwt(world, world.ada, secret="z" * 48),
    }
    for case, token in refused.items():
        response = post_initialize(servers.web.base, token)
        assert response.status_code == 401, f"{case}: {response.status_code} {response.text}"
        assert response.headers.get("www-authenticate", "").startswith("Bearer "), f"{case}: {response.headers}"
    accepted = post_initialize(servers.web.base, world.ada.token)
    assert accepted.status_code == 200
    assert mcp_message(accepted)["result"]["serverInfo"]["name"] == "todo-agent"


def test_http_checks_host_and_origin(servers: Servers, world: World) -> None:
    """DNS-rebinding protection stays on: a foreign Host gets 421, a foreign Origin 403, the local ones pass."""
    base, token = servers.web.base, world.ada.token
    assert post_initialize(base, token, Host="evil.example").status_code == 421
    assert post_initialize(base, token, Host=f"evil.example:{servers.web.port}").status_code == 421
    assert post_initialize(base, token, Origin="http://evil.example").status_code == 403
    assert post_initialize(base, token, Host=f"localhost:{servers.web.port}").status_code == 200
    assert post_initialize(base, token, Origin=f"http://127.0.0.1:{servers.web.port}").status_code == 200


def test_allowed_hosts_setting_configures_a_deployment(servers: Servers, world: World) -> None:
    base, token = servers.deployed.base, world.ada.token
    accepted = post_initialize(base, token, Host="todo.example.com")
    assert accepted.status_code == 200, accepted.text
    assert mcp_message(accepted)["result"]["serverInfo"]["name"] == "todo-agent"
    assert post_initialize(base, token, Host="evil.example").status_code == 421
    assert post_initialize(base, None, Host="todo.example.com").status_code == 401


def test_allowed_hosts_accept_the_https_origin_of_the_deployment(servers: Servers, world: World) -> None:
    response = post_initialize(servers.deployed.base, world.ada.token, Host="todo.example.com",
                               Origin="https://todo.example.com")
    assert response.status_code == 200, f"{response.status_code} {response.text}"


@pytest.mark.parametrize("which", ["web", "standalone"])
def test_the_401_asks_for_a_bearer_token_and_names_no_authorization_server(servers: Servers, which: str) -> None:
    """Only static bearer tokens work: no OAuth metadata naming an authorization server that does not exist."""
    server = getattr(servers, which)
    challenge = post_initialize(server.base).headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and "resource_metadata" not in challenge, challenge
    metadata = httpx.get(f"{server.base}/.well-known/oauth-protected-resource/mcp", timeout=10)
    assert metadata.status_code == 404, metadata.text


def test_standalone_http_server_stops_cleanly_on_sigterm(servers: Servers) -> None:
    code = servers.stoppable.stop()
    assert code == 0, f"exit code {code}\n{servers.stoppable.logs()}"


async def test_over_http_each_token_acts_only_for_its_user(servers: Servers, world: World) -> None:
    url = f"{servers.web.base}/mcp"
    async with http_session(url, world.ada.token, "auto") as ada:
        mine = await use_the_tools(ada, world.ada, "ada's secret")
    async with http_session(url, world.bob.token, "legacy") as bob:
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("get_task", {"task_id": mine}),
            ("complete_task", {"task_id": mine}),
            ("update_task", {"task_id": mine, "title": "stolen"}),
        ]
        for tool, args in attempts:
            result = await bob.call_tool(tool, args)
            assert result.is_error, f"bob's {tool} on ada's task succeeded: {result.structured_content}"
            assert isinstance(result.content[0], TextContent) and "not found" in result.content[0].text
        listed = await bob.call_tool("list_tasks", {"limit": 100, "status": ["open", "completed", "deleted"]})
        assert listed.structured_content is not None
        assert mine not in {row["id"] for row in listed.structured_content["data"]}
    async with http_session(url, world.ada.token, "legacy") as ada:
        still = await ada.call_tool("get_task", {"task_id": mine})
        assert still.structured_content is not None
        assert still.structured_content["status"] == "open" and still.structured_content["title"] != "stolen"
