"""Who a tool acts for: the bearer token's caller over HTTP (verified once per request, with timezone and admin
flag), the configured user over stdio (read again on every call), and nobody otherwise — then every tool and
resource refuses, saying how to sign in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from domain import usecases as uc
from domain.access_tokens import AUDIENCE_API, AUDIENCE_MCP, issue_access_token
from domain.uow import UnitOfWork
from mcp_server import McpPorts, build_server
from mcp_server.context import CallerToken, TodoTokenVerifier
from tests.conftest import new_actor
from tests.mcp.conftest import SECRET, UNKNOWN, Session


def _jwt(user_id: int, audience: str = AUDIENCE_MCP) -> str:
    return issue_access_token(user_id, SECRET, now=datetime.now(UTC), ttl=timedelta(minutes=5), audience=audience)


async def test_the_verifier_hands_over_the_caller_of_an_api_token_or_an_mcp_jwt(uow: UnitOfWork):
    actor = await new_actor(uow, "Europe/Berlin")
    token, _ = await uc.create_api_token(uow, actor, "claude")
    verifier = TodoTokenVerifier(uow, SECRET)
    for credential in (token, _jwt(actor.id)):
        verified = await verifier.verify_token(credential)
        assert isinstance(verified, CallerToken)
        assert (verified.subject, verified.client_id) == (str(actor.id), f"user:{actor.id}")
        assert verified.caller == uc.Actor(id=actor.id, timezone="Europe/Berlin", is_admin=False)


async def test_the_verifier_refuses_other_audiences_unknown_users_and_revoked_or_made_up_tokens(uow: UnitOfWork):
    actor = await new_actor(uow)
    token, row = await uc.create_api_token(uow, actor, "old")
    await uc.revoke_token(uow, row.id, actor)
    verifier = TodoTokenVerifier(uow, SECRET)
    refused = [_jwt(actor.id, audience=AUDIENCE_API), _jwt(UNKNOWN), token, "tok_made_up", "a.b.c"]
    assert [await verifier.verify_token(credential) for credential in refused] == [None] * len(refused)


async def test_a_stdio_server_reads_its_users_timezone_again_on_every_call(me: Session, uow: UnitOfWork):
    assert (await me.ok("whoami")).data["timezone"] == "Asia/Tokyo"
    await uc.set_timezone(uow, me.actor, "Europe/Paris")
    assert (await me.ok("whoami")).data["timezone"] == "Europe/Paris"


async def test_a_server_acting_for_nobody_refuses_tools_and_resources_saying_how_to_sign_in(uow: UnitOfWork):
    async with Client(build_server(McpPorts(uow=uow, secret=SECRET))) as client:
        for tool, args in (("whoami", {}), ("get_task", {"task_id": 1}), ("complete_task", {"task_ids": [1, 2]})):
            result = await client.call_tool(tool, args)
            assert result.is_error and result.structured_content is None, tool
            assert result.content[0].text == (  # type: ignore[union-attr]
                "not signed in: connect with a personal API token or an access token."
            ), tool
        with pytest.raises(MCPError):
            await client.read_resource("tasks://today")


async def test_a_server_whose_configured_user_is_gone_answers_with_errors_naming_the_user(uow: UnitOfWork):
    async with Client(build_server(McpPorts(uow=uow, secret=SECRET, fixed_user_id=UNKNOWN))) as client:
        result = await client.call_tool("whoami", {})
        assert result.is_error and result.content[0].text == f"no user {UNKNOWN}."  # type: ignore[union-attr]
        with pytest.raises(MCPError, match=f"no user {UNKNOWN}"):
            await client.read_resource("task://1")


async def test_empty_filter_lists_mean_no_filter_as_on_the_rest_api(me: Session):
    kept = [await me.add("open"), await me.add("done"), await me.add("trashed")]
    await me.ok("complete_task", task_id=kept[1]["id"])
    await me.ok("delete_task", task_id=kept[2]["id"])
    listed = (await me.ok("list_tasks", status=[], priority=[], tags=[])).data
    assert sorted(row["title"] for row in listed["data"]) == ["done", "open"]
