"""The chart tests' tools: Helm's engine (helm-python-sdk), the Kubernetes API schemas (kubernetes-validate) and
jsonschema from the `chart` extra, and checkov from its own virtualenv. A missing one skips these tests, or fails
them under CI=true (tests.infra.require_or_skip), like the other tools the suite needs."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from tests.infra import require_or_skip

_REPO = Path(__file__).resolve().parents[2]
_MODULES = {"helm_python": "helm-python-sdk", "kubernetes_validate": "kubernetes-validate", "jsonschema": "jsonschema",
            "yaml": "pyyaml"}


@pytest.fixture(autouse=True, scope="session")
def chart_tools() -> None:
    """The chart extra is installed (make test installs it: pip install -e '.[test,chart]')."""
    missing = [package for module, package in _MODULES.items() if importlib.util.find_spec(module) is None]
    if missing:
        require_or_skip(f"the chart tests need {', '.join(missing)}: pip install -e '.[test,chart]'")


@pytest.fixture(scope="session")
def checkov() -> Path:
    """The checkov command: TODO_AGENT_CHECKOV, else .cache/checkov/bin/checkov (scripts/provision-test-services
    installs it into a virtualenv of its own)."""
    path = Path(os.environ.get("TODO_AGENT_CHECKOV") or _REPO / ".cache" / "checkov" / "bin" / "checkov")
    if not os.access(path, os.X_OK):
        require_or_skip(f"checkov is not installed at {path}: run scripts/provision-test-services, or set "
                        "TODO_AGENT_CHECKOV")
    return path
