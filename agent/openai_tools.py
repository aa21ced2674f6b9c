"""The agent's messages and tools (Cohere's v2 shape, see agent.window and agent.catalog) in the OpenAI
chat-completions shape, and a check for answers that hold a tool call written as text.

Why the check: many local models (or a server started without tool-call support) answer a request for a tool
with the call's JSON, or `<tool_call>` tags, as plain text. Run as an answer, that would look to the person as if
the task was changed when nothing was; the adapter ends such a turn with a sentence saying what went wrong."""

from __future__ import annotations

import json
import re
from typing import Any

from agent.cohere_tools import plain_schema
from agent.model import Message, ToolSpec

# The markers models use for calls in their own text: Hermes/Qwen `<tool_call>`, Llama 3 `<|python_tag|>`,
# Mistral `[TOOL_CALLS]`, Llama 4 / Qwen3-Coder `<function=...>`, Granite/Phi `<|tool_call|>` and `<tool_calls>`.
CALL_MARKERS = re.compile(r"<tool_calls?>|<\|tool_calls?\|>|<\|python_tag\|>|\[TOOL_CALLS\]|<function=\w")
# Where a JSON call may begin: an object whose first key names the function.
JSON_CALL_START = re.compile(r'\{\s*"(?:name|function|tool|tool_name)"\s*:')
ARGUMENT_KEYS = ("arguments", "parameters", "args", "input")


def openai_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The conversation as chat-completions messages: an assistant's calls as `tool_calls` (its plan, if any, as
    the content) and each tool result as a `tool` message with the call's id and the result's text."""
    return [_message(message) for message in messages]


def _message(message: Message) -> dict[str, Any]:
    role = message.get("role")
    if role == "tool":
        return {"role": "tool", "tool_call_id": message.get("tool_call_id") or "", "content": _text(message)}
    if role == "assistant" and message.get("tool_calls"):
        calls = [
            {"id": call["id"], "type": "function",
             "function": {"name": call["function"]["name"], "arguments": call["function"].get("arguments") or "{}"}}
            for call in message["tool_calls"]
        ]
        plan = message.get("tool_plan") or message.get("content")
        return {"role": "assistant", "tool_calls": calls} | ({"content": plan} if plan else {})
    return {"role": role, "content": _text(message)}


def _text(message: Message) -> str:
    """A message's content as one string: a tool result's documents (their data), or text parts, joined."""
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    pieces: list[str] = []
    for part in content if isinstance(content, list) else [content]:
        if not isinstance(part, dict):
            pieces.append(str(part))
        elif "document" in part:
            data = (part.get("document") or {}).get("data")
            pieces.append(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False))
        else:
            pieces.append(str(part.get("text") or ""))
    return "\n".join(pieces)


def openai_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    """The tools in the function-calling format, each schema with its `$ref`s inlined (the one inliner,
    agent.cohere_tools.plain_schema: many local servers cannot resolve references)."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        function = tool.get("function", tool)
        parameters = plain_schema(function.get("parameters") or {}) or {"type": "object", "properties": {}}
        out.append({"type": "function", "function": {"name": function["name"],
                                                      "description": function.get("description") or "",
                                                      "parameters": parameters}})
    return out


def tool_names(tools: list[ToolSpec]) -> frozenset[str]:
    """The names of the tools offered to the model."""
    return frozenset(str(tool.get("function", tool).get("name")) for tool in tools)


def looks_like_a_call(text: str, names: frozenset[str]) -> bool:
    """Whether the answer is (or holds) a tool call written as text: a known call marker, or a JSON object naming
    one of the offered tools next to its arguments. Prose that merely mentions a tool, and JSON that names no
    offered tool, are answers."""
    if CALL_MARKERS.search(text):
        return True
    decoder = json.JSONDecoder()
    for start in JSON_CALL_START.finditer(text):
        try:
            value, _end = decoder.raw_decode(text, start.start())
        except ValueError:
            continue
        if _names_a_tool(value, names):
            return True
    return False


def _names_a_tool(value: Any, names: frozenset[str]) -> bool:
    if not isinstance(value, dict):
        return False
    name = next((value[key] for key in ("name", "tool", "tool_name") if isinstance(value.get(key), str)), None)
    function = value.get("function")
    if isinstance(function, dict):  # {"function": {"name": ..., "arguments": ...}}
        return _names_a_tool(function, names)
    if isinstance(function, str):  # {"function": "add_task", "arguments": {...}}
        name = function
    return name in names and any(key in value for key in ARGUMENT_KEYS)
