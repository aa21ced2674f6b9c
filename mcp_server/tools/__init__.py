"""Every tool, as a module-level function with its annotations, in the order the catalogue lists them."""

import functools
import re
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver.tools import Tool

from mcp_server.context import ToolSpec
from mcp_server.tools import fields, misc, projects, tasks

TOOLS: list[ToolSpec] = [*tasks.TOOLS, *fields.TOOLS, *misc.TOOLS, *projects.TOOLS]


def description(tool: Callable[..., Any]) -> str:
    """The tool's docstring as the catalogue has always shown it: its lines indented one level deeper, as when
    the tools were nested functions, so the text clients and recorded conversations saw stays byte-identical."""
    return re.sub(r"\n(?=.)", "\n    ", tool.__doc__ or "")


@functools.cache
def catalogue() -> tuple[Tool, ...]:
    """The SDK's tool for each entry of TOOLS, built once per process: deriving the schemas from the signatures
    takes ~40 ms, and every server offers the same tools (the test suite builds one server per test)."""
    return tuple(Tool.from_function(fn, description=description(fn), annotations=notes) for fn, notes in TOOLS)
