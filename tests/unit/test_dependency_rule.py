"""The dependency rule (README, Development): every import of ours, at any depth of a module (inside functions and
`if TYPE_CHECKING:` blocks too), points inward. An AST walk, so a wrong import fails here whatever runs it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OURS = ("domain", "services", "mcp_server", "agent", "web", "runtime", "evals")

# Which of our packages each package may import (itself always). runtime is the composition root: it may import all.
ALLOWED: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    "services": frozenset({"domain"}),
    "mcp_server": frozenset({"domain"}),
    "agent": frozenset(),  # it knows the tools by their MCP schemas, never the domain
    "web": frozenset({"domain", "services", "mcp_server", "agent"}),
    "evals": frozenset({"domain", "agent", "mcp_server"}),  # the eval runner drives the real agent and MCP server
    "runtime": frozenset(OURS),
}


def imported_packages(source: str) -> set[tuple[int, str]]:
    """(line, top-level package) of every absolute import in `source` that names one of ours."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {(node.lineno, name.split(".")[0]) for name in names if name.split(".")[0] in OURS}
    return found


def violations(package: str, root: Path = REPO) -> list[str]:
    """`path:line imports X` for each import the rule forbids in `package`."""
    allowed = ALLOWED[package] | {package}
    wrong = []
    for path in sorted((root / package).rglob("*.py")):
        for line, target in sorted(imported_packages(path.read_text(encoding="utf-8"))):
            if target not in allowed:
                wrong.append(f"{path.relative_to(root)}:{line} imports {target}")
    return wrong


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_every_import_points_inward(package: str) -> None:
    assert violations(package) == []


def test_every_top_level_package_is_covered_by_the_rule() -> None:
    """A new top-level package must be given its place in ALLOWED (evals and chart arrive later)."""
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages <= set(ALLOWED), packages - set(ALLOWED)


def test_the_check_finds_a_wrong_import_wherever_it_hides(tmp_path: Path) -> None:
    """The walk sees module-level, function-level and TYPE_CHECKING imports, and both import forms."""
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "bad.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import domain.models\n"
        "if TYPE_CHECKING:\n"
        "    from web.settings import Settings\n"
        "def f():\n"
        "    import runtime.bootstrap\n"
        "    from . import sibling\n"
    )
    assert violations("services", root=tmp_path) == [
        "services/bad.py:4 imports web",
        "services/bad.py:6 imports runtime",
    ]
