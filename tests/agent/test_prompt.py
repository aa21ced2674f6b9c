"""The system prompt's rules: every tool and argument they name exists on the MCP server (a rename there must not
leave the prompt teaching a call that fails), and the prompt stays compact: with the server's notes and the tool
schemas it leaves most of the default token budget to the conversation."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from agent.cohere_tools import cohere_tool
from agent.prompt import RULES, LocalNow, system_prompt
from agent.settings import AgentSettings
from agent.tokens import count_tokens, json_tokens
from mcp_server.server import INSTRUCTIONS
from mcp_server.tools import catalogue

RULES_MAX = 400  # tokens of the rules alone
PROMPT_MAX = 1_000  # tokens of the whole system prompt, the server's notes included
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # list_projects, parent_id: how the rules name tools and arguments


def test_the_rules_name_only_tools_and_arguments_the_server_has() -> None:
    tools = catalogue()
    names = {t.name for t in tools} | {arg for t in tools for arg in t.parameters.get("properties", {})}
    named = set(SNAKE.findall(RULES))
    assert {"list_projects", "move_task", "update_task", "add_task", "parent_id"} <= named
    assert sorted(named - names) == []
    assert 'subtasks="complete"' in RULES and "subtasks" in next(t for t in tools if t.name == "complete_task"
                                                                  ).parameters["properties"]


def test_the_rules_say_what_projects_and_subtasks_mean_and_that_deleting_a_project_needs_approval() -> None:
    rules = RULES.casefold()
    assert '"put x under/in shopping" means the project shopping' in rules
    assert "create a project only when the user asks for one" in rules and "if none matches, ask" in rules
    assert "add_task with parent_id" in rules and "once per step" in rules
    assert "deleting tasks or projects" in rules and "inbox" in rules
    assert "delete_project" in AgentSettings().approval_tools


def test_the_prompt_stays_compact_and_leaves_the_conversation_most_of_the_budget() -> None:
    prompt = system_prompt(LocalNow.at("Europe/Berlin", datetime(2026, 3, 28, 17, 0, tzinfo=UTC)), INSTRUCTIONS)
    schemas = json_tokens([cohere_tool(t.name, t.description, t.parameters) for t in catalogue()])
    assert count_tokens(RULES) <= RULES_MAX
    assert count_tokens(prompt) <= PROMPT_MAX
    assert count_tokens(prompt) + schemas <= AgentSettings().token_budget * 2 // 3
