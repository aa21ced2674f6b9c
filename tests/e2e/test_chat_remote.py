"""`todo-agent chat --server URL`: the agent reaching a remote MCP server over streamable HTTP with the user's token
(the chat model is scripted: TODO_AGENT_MODEL=scripted:<file>, so no Cohere call is made)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Servers, World, run
from tests.infra import clean_env

pytestmark = pytest.mark.slow


def test_chat_with_a_remote_server_acts_as_the_tokens_user_there(servers: Servers, world: World, tmp_path: Path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([
        {"text": "Adding it.", "tool_calls": [{"name": "add_task", "arguments": {"title": "Remote milk"}}]},
        {"text": "Done."},
    ]))
    local = tmp_path / "local"  # the chat keeps its conversations here, the tasks live on the server
    env = clean_env(data_dir=str(local), model=f"scripted:{script}", token=world.bob.token)
    result = run(["chat", "--server", f"{servers.web.base}/mcp"], env, stdin="add remote milk\n")
    assert result.returncode == 0, result.stderr
    assert "[tool] add_task" in result.stdout and "Done." in result.stdout
    listed = httpx.get(f"{servers.web.base}/api/v1/tasks", params={"q": "remote milk"},
                       headers={"Authorization": f"Bearer {world.bob.token}"}).json()
    assert [t["title"] for t in listed["data"]] == ["Remote milk"]


def test_chat_with_a_server_but_no_token_refuses_clearly(servers: Servers, tmp_path: Path):
    script = tmp_path / "script.json"
    script.write_text("[]")
    env = clean_env(data_dir=str(tmp_path / "local"), model=f"scripted:{script}")
    result = run(["chat", "--server", f"{servers.web.base}/mcp"], env, stdin="hi\n")
    assert result.returncode == 1 and "TODO_AGENT_TOKEN" in result.stderr and "Traceback" not in result.stderr
