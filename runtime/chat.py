"""Builds the conversation agent for a process: its model, conversation store and in-process MCP connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta

from starlette.types import ASGIApp

from agent.agent import Agent
from agent.mcp_client import McpToolbox, connect_in_process, connect_remote
from agent.pool import SessionPool
from agent.store import ConversationStore
from domain.access_tokens import AUDIENCE_MCP, issue_access_token
from runtime.bootstrap import Runtime
from runtime.chat_settings import AgentConfig, ModelConfig
from runtime.settings import Settings

MCP_TOKEN_TTL = timedelta(minutes=5)
MCP_TOKEN_REUSE = timedelta(minutes=1)  # a token is sent for at most this long, so it has >= 4 minutes left


def conversation_store(rt: Runtime) -> ConversationStore:
    return ConversationStore(rt.db.writer, reader=rt.db.reader)


def in_process_url(settings: Settings) -> str:
    """A base URL whose Host the MCP app accepts (it checks Host even in-process): localhost when allowed."""
    hosts = settings.allowed_hosts
    host = "localhost:*" if "localhost:*" in hosts else (hosts[0] if hosts else "localhost:*")
    return "http://" + host.replace(":*", f":{settings.port}")


def build_agent(rt: Runtime, mcp_app: ASGIApp) -> Agent | None:
    """The agent over this process's MCP app, or None when no chat model is configured.

    Each user's MCP session is pooled across turns (agent.pool); close them with `close_agent` at shutdown.
    """
    model = ModelConfig().chat_model()
    if model is None:
        return None
    base_url = in_process_url(rt.settings)

    def tools_for(user_id: int) -> AbstractAsyncContextManager[McpToolbox]:
        # The agent reaches MCP like any client: with a short-lived token of the user (audience "mcp"), minted
        # again once a minute, so that a session kept open across turns never sends an expired one while the
        # requests in between carry one token (which the server's cache of verified callers knows).
        def mint() -> str:
            return issue_access_token(user_id, rt.secret, now=rt.uow.clock.now(), ttl=MCP_TOKEN_TTL,
                                      audience=AUDIENCE_MCP)

        return connect_in_process(mcp_app, mint, base_url=base_url, partition=f"user:{user_id}",
                                  token_reuse_seconds=MCP_TOKEN_REUSE.total_seconds())

    settings = AgentConfig().as_settings()
    pool = SessionPool(tools_for, idle_seconds=settings.tool_session_idle.total_seconds())
    return Agent(model, pool, conversation_store(rt), rt.uow.clock, settings)


async def close_agent(agent: Agent | None) -> None:
    """Close the MCP sessions the agent keeps between turns (while the MCP app still serves)."""
    if agent is not None and isinstance(agent.toolbox_factory, SessionPool):
        await agent.toolbox_factory.aclose()


def build_remote_agent(rt: Runtime, url: str, token: str) -> Agent | None:
    """The agent over a remote MCP server (streamable HTTP at `url`) with the user's personal token."""
    model = ModelConfig().chat_model()
    if model is None:
        return None

    @asynccontextmanager
    async def tools_for(_user_id: int) -> AsyncIterator[McpToolbox]:
        async with connect_remote(url, token) as toolbox:
            yield toolbox

    return Agent(model, tools_for, conversation_store(rt), rt.uow.clock, AgentConfig().as_settings())


async def remote_user_id(url: str, token: str) -> int:
    """Who the token is on the remote server (its whoami tool): conversations are kept under that id."""
    async with connect_remote(url, token) as toolbox:
        outcome = await toolbox.call("whoami", {})
    if outcome.is_error or not outcome.structured:
        raise ValueError(f"{url}: whoami failed: {outcome.text}")
    return int(outcome.structured["user_id"])
