"""Scripted conversation evals (issue 14): scenarios in YAML (evals/scenarios, FORMAT.md), run through the real
agent and MCP server on fresh databases, judged on the final state, the tool calls and the replies."""
