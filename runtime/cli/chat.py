"""`todo-agent chat`: the conversation agent in a terminal, or driven line by line by a script."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runtime.cli.support import errors, fail, load_settings

TURN_FAILED = 3  # exit code in script mode when a turn fails (1: the chat could not start, 2: bad command line)
LOG_FILE = "chat.log"  # in the data directory's logs/: the screen is the conversation's

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from agent.agent import Agent
    from agent.stream import TurnEvent
    from runtime.settings import Settings


def chat(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="Chat as this user; else TODO_AGENT_TOKEN is used.")] = None,
    approve_all: Annotated[bool, typer.Option("--approve-all", help="Approve every call (non-interactive).")] = False,
    server: Annotated[
        str | None, typer.Option(help="A remote MCP endpoint (https://HOST/mcp); needs TODO_AGENT_TOKEN.")
    ] = None,
) -> None:
    """Talk to your tasks. Interactive on a terminal; otherwise one message per input line, until end of input
    (a failed turn then ends the chat with exit code 3). Logs go to logs/chat.log in the data directory."""
    from agent.model_choice import NO_MODEL_HELP, model_label
    from runtime.bootstrap import prepare_database
    from runtime.chat_settings import ModelConfig

    with errors(ctx):
        settings = load_settings(ctx, log_file=LOG_FILE)
        model = ModelConfig().chat_model()
        if model is None:
            raise fail(NO_MODEL_HELP)
        _announce(model_label(model))
        prepare_database(settings)
        token = os.environ.get("TODO_AGENT_TOKEN")
        if server is not None:
            if not token:
                raise fail("--server needs your personal API token for that server in TODO_AGENT_TOKEN")
            answered = asyncio.run(_chat_remote(settings, server, token, approve_all))
        else:
            answered = asyncio.run(_chat(settings, user, token, approve_all))
    if not answered:
        raise typer.Exit(TURN_FAILED)


def _announce(label: str) -> None:
    """Say which model answers: on the terminal before the first prompt; in script mode only in the log (stdout
    carries the conversation alone there)."""
    logger.info("chat model: %s", label)
    if sys.stdin.isatty():
        typer.echo(f"chat model: {label}")


async def _chat(settings: Settings, email: str | None, token: str | None, approve_all: bool) -> bool:
    from runtime.bootstrap import background, build_mcp
    from runtime.chat import build_agent, close_agent
    from runtime.cli.mcp import client_runtime

    rt, user_id = await client_runtime(settings, "chat", email, token)
    mcp = build_mcp(rt)
    agent = build_agent(rt, mcp.app)
    assert agent is not None  # the command checked the model before starting
    async with background(rt), mcp.server.session_manager.run():
        try:
            return await _conversation(agent, user_id, interactive=sys.stdin.isatty(), approve_all=approve_all)
        finally:
            await close_agent(agent)  # its pooled MCP sessions end while the MCP app still serves


async def _chat_remote(settings: Settings, url: str, token: str, approve_all: bool) -> bool:
    from runtime.bootstrap import background, build_runtime
    from runtime.chat import build_remote_agent, remote_user_id
    from runtime.lease import PRIORITY_CLIENT

    rt = build_runtime(settings, role="chat", priority=PRIORITY_CLIENT)
    agent = build_remote_agent(rt, url, token)
    assert agent is not None  # the command checked the model before starting
    async with background(rt):
        user_id = await remote_user_id(url, token)
        return await _conversation(agent, user_id, interactive=sys.stdin.isatty(), approve_all=approve_all)


async def _conversation(agent: Agent, user_id: int, *, interactive: bool, approve_all: bool) -> bool:
    """Answer message after message; False when a turn failed in script mode, where the rest of the script is not
    sent (it was written for answers that did not come). On a terminal the person reads the error and goes on."""
    conversation_id: int | None = None
    while (line := await _read(interactive)) is not None:
        if not line.strip():
            continue
        pending: dict[str, Any] | None = {"message": line.strip()}
        while pending is not None:
            conversation_id, pending, failed = await _turn(
                agent, user_id, conversation_id, pending, interactive, approve_all
            )
            if failed and not interactive:
                return False
    return True


async def _read(interactive: bool) -> str | None:
    """The next message, or None at end of input."""
    try:
        if interactive:
            return await asyncio.to_thread(input, "you> ")
        line = await asyncio.to_thread(sys.stdin.readline)
        return line.rstrip("\n") if line else None
    except EOFError:
        return None


async def _turn(
    agent: Agent, user_id: int, conversation_id: int | None, request: dict[str, Any], interactive: bool,
    approve_all: bool,
) -> tuple[int | None, dict[str, Any] | None, bool]:
    """Run one turn, printing its events; returns the conversation, the approval answer to send next (if any) and
    whether the turn failed (its reason is on stderr)."""
    answer: dict[str, Any] | None = None
    mid_line = failed = False
    async for event in agent.run_turn(user_id, conversation_id, **request):
        failed = failed or event.type == "error"
        if event.type == "turn_started":
            conversation_id = event.conversation_id
        elif event.type == "approval_required":
            approved = await _ask(event.name, event.arguments, interactive, approve_all)
            answer = {"approval": {"tool_call_id": event.tool_call_id, "approved": approved}}
        if mid_line and event.type in ("tool_call", "error"):
            typer.echo("")
        _show(event)
        mid_line = event.type == "text_delta"
    return conversation_id, answer, failed


async def _ask(name: str, arguments: dict[str, Any], interactive: bool, approve_all: bool) -> bool:
    if approve_all or not interactive:
        typer.echo(f"  [{'approved' if approve_all else 'denied'}] {name} (non-interactive)")
        return approve_all
    reply = await asyncio.to_thread(input, f"  allow {name} {json.dumps(arguments)}? [y/N] ")
    return reply.strip().lower() in ("y", "yes")


def _show(event: TurnEvent) -> None:
    if event.type == "text_delta":
        typer.echo(event.text, nl=False)
    elif event.type == "tool_call":
        typer.echo(f"  [tool] {event.name} {json.dumps(event.arguments, ensure_ascii=False)}")
    elif event.type == "tool_result":
        typer.echo(f"  [{'error' if event.is_error else 'ok'}] {event.summary}")
    elif event.type == "message_done":
        typer.echo("")
    elif event.type == "error":
        typer.echo(f"error: {event.message}", err=True)
