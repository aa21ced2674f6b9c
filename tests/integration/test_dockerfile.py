"""The image: the Dockerfile installs exactly the project's wheel, and what it installs runs as a non-root user.

No Docker engine runs here (and no registry to pull the base image from), so the image is not built. Instead the
test does what its build stage does, outside Docker: it makes the build context the Dockerfile sees (the files
`.dockerignore` lets through), runs the build stage's own wheel command in it, checks that the wheel holds every
file of the packages (modules, migrations, event schemas, the page's assets) and nothing else, and runs the
installed wheel's CLI (not this checkout's editable install) as uid 10001, as the image's USER, on a private data
directory. The Dockerfile's instructions are read with dockerfile-parse.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pathspec
import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agent", "domain", "evals", "mcp_server", "runtime", "services", "web")
IMAGE_USER = 10001
BUILD_TOOLS = re.compile(r"\b(apt-get|apk|gcc|g\+\+|make|build-essential|pip install|pip wheel|python -m build)\b")


def stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, split by FROM (comments left out)."""
    parsed: list[list[dict[str, Any]]] = []
    for instruction in DockerfileParser(str(ROOT / "Dockerfile")).structure:
        if instruction["instruction"] == "FROM":
            parsed.append([])
        if parsed and instruction["instruction"] != "COMMENT":
            parsed[-1].append(instruction)
    return parsed


def values(stage: list[dict[str, Any]], kind: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == kind]


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [p for p in listed.decode().split("\0") if p and (ROOT / p).is_file()]


def build_context() -> set[str]:
    """The tracked files `.dockerignore` sends to the builder (gitignore-style patterns, `!` re-includes)."""
    spec = pathspec.GitIgnoreSpec.from_lines((ROOT / ".dockerignore").read_text().splitlines())
    return {path for path in tracked_files() if not spec.match_file(path)}


def test_the_final_stage_runs_the_cli_as_a_non_root_user_from_the_build_stages_virtualenv_only() -> None:
    build, final = stages()
    assert values(build, "FROM")[0].endswith(" AS build") and len(stages()) == 2
    assert values(final, "USER") == [f"{IMAGE_USER}:{IMAGE_USER}"]
    assert json.loads(values(final, "ENTRYPOINT")[0]) == ["todo-agent"]
    assert json.loads(values(final, "CMD")[0]) == ["serve"]
    # From the build stage only the virtualenv; nothing from the build context, no compiler, no package installs.
    assert values(final, "COPY") == ["--from=build /opt/todo-agent /opt/todo-agent"]
    for run in values(final, "RUN"):
        assert not BUILD_TOOLS.search(run), run
    assert "pip uninstall" in " ".join(values(final, "RUN"))  # the base image's pip goes too
    env = " ".join(values(final, "ENV"))
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "TODO_AGENT_DATA_DIR=/data", "TODO_AGENT_HOST=0.0.0.0"):
        assert setting in env  # nothing written under the (read-only) root filesystem; reachable by probes


def test_the_build_context_holds_the_packages_and_no_tests_chart_secrets_or_databases() -> None:
    context = build_context()
    copied = {v.split()[0].rstrip("/") for v in values(stages()[0], "COPY")}
    assert copied == {"pyproject.toml", *PACKAGES}  # README.md is copied with pyproject.toml
    for path in context:
        assert path.split("/")[0] in {*PACKAGES, "pyproject.toml", "README.md"}, path
    assert not any(p.startswith(("tests/", "chart/", ".ci/", "bench/")) for p in context)
    assert {"pyproject.toml", "README.md", "runtime/migrations/env.py"} <= context


@pytest.fixture(scope="module")
def wheel() -> Iterator[Path]:
    """The wheel the build stage makes: its own `pip wheel` command, run in a copy of the build context."""
    [command] = [r for r in values(stages()[0], "RUN") if "pip wheel" in r]
    with tempfile.TemporaryDirectory() as tmp:
        context, dist = Path(tmp, "src"), Path(tmp, "dist")
        for path in build_context():
            (context / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, context / path)
        argv = [str(dist) if arg == "/dist" else arg for arg in shlex.split(command)]
        assert argv[:2] == ["pip", "wheel"], command
        subprocess.run([sys.executable, "-m", *argv], cwd=context, check=True, capture_output=True, timeout=300)
        [built] = list(dist.glob("*.whl"))
        yield built


def test_the_wheel_is_the_one_the_install_step_names_and_holds_every_package_file(wheel: Path) -> None:
    [install] = [r for r in values(stages()[0], "RUN") if "install" in r]
    pattern = install.split()[-1].removeprefix("/dist/")
    assert Path(wheel.name).match(pattern), (wheel.name, pattern)
    with zipfile.ZipFile(wheel) as archive:
        inside = {n for n in archive.namelist() if not n.startswith("todo_agent-")}  # less the .dist-info
    wanted = {p for p in tracked_files() if p.split("/")[0] in PACKAGES}
    assert inside == wanted, f"missing: {sorted(wanted - inside)[:10]}, extra: {sorted(inside - wanted)[:10]}"


def test_the_installed_wheel_migrates_and_answers_as_uid_10001_on_a_private_data_directory(wheel: Path) -> None:
    """The wheel installed apart from this checkout, its dependencies from the test virtualenv, run with
    `python -S` in the data directory (no .pth files and no checkout on the path, so this checkout's editable
    install cannot be what answers) as the image's user."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # the image's user must reach the installed wheel
        target, data = Path(tmp, "site"), Path(tmp, "data")
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--target", str(target),
                        str(wheel)], check=True, capture_output=True, timeout=120)
        data.mkdir(mode=0o700)
        os.chown(data, IMAGE_USER, IMAGE_USER)
        env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(data),
               "TODO_AGENT_DATA_DIR": str(data), "PYTHONPATH": f"{target}:{sysconfig.get_path('purelib')}"}
        as_user = ["setpriv", f"--reuid={IMAGE_USER}", f"--regid={IMAGE_USER}", "--clear-groups"]
        cli = [*as_user, sys.executable, "-S", "-c",
               "import sys, runtime; print(runtime.__file__, file=sys.stderr); "
               "from runtime.cli.main import main; sys.argv[0] = 'todo-agent'; main()"]
        upgraded = subprocess.run([*cli, "db", "upgrade"], env=env, cwd=data, capture_output=True, text=True,
                                  timeout=120)
        assert upgraded.returncode == 0, upgraded.stderr
        assert upgraded.stderr.splitlines()[0] == str(target / "runtime" / "__init__.py")
        database = data / "todo-agent.db"
        assert database.stat().st_uid == IMAGE_USER
        assert {p.name for p in target.rglob("__pycache__")} == set()  # nothing written beside the code
        served = subprocess.run([*cli, "service", "--help"], env=env, cwd=data, capture_output=True, text=True,
                                timeout=60)
        assert served.returncode == 0 and "reminder" in served.stdout
