"""`todo-agent evals run` end to end, offline: the exit codes (0 at or above --min-pass, 1 below, 2 when it cannot
run), the JSON and Markdown reports, --filter and --trials, and the clear error for a real model without its key.
Each run migrates its own template and drives the real agent and MCP server (nothing is mocked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runtime.cli.main import app
from tests.evals.conftest import base, write

NO_KEYS = {"CO_API_KEY": "", "COHERE_API_KEY": ""}


def evals(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evals", "run", *args], env={**NO_KEYS, **(env or {})})
    return result.exit_code, result.output


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    """Two passing scenarios and one whose expectation is wrong (the milk is due at 09:00, not 10:00)."""
    directory = tmp_path / "scenarios"
    directory.mkdir()
    write(directory, base(id="good-move"))
    write(directory, base(id="good-too", description="The same move, once more."))
    wrong = base(id="wrong-due")
    wrong["expect"]["tasks"][0]["due"] = "2026-03-29 10:00"
    write(directory, wrong)
    return directory


def test_a_passing_run_writes_both_reports_and_exits_0(scenarios: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = evals("--scenarios", str(scenarios), "--filter", "good", "--out", str(out), "--trials", "2",
                         "--min-pass", "1")

    assert code == 0, output
    assert "pass^1 = 1.000, pass^2 = 1.000" in output
    report = json.loads((out / "report.json").read_text())
    assert report["model"] == "scripted" and report["trials"] == 2
    assert report["pass_hat_k"] == {"1": 1.0, "2": 1.0}
    assert [(s["id"], s["passed"], s["trials"]) for s in report["scenarios"]] == [("good-move", 2, 2),
                                                                                 ("good-too", 2, 2)]
    assert report["cost"]["model_calls"] == 12 and report["cost"]["estimated_usd"] == 0.0
    markdown = (out / "report.md").read_text()
    assert "| good-move | 2/2 | 3.0 |" in markdown and "Failures" not in markdown
    assert (out / "evals.log").exists()


def test_below_min_pass_exits_1_and_reports_the_failing_expectation(scenarios: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = evals("--scenarios", str(scenarios), "--out", str(out), "--min-pass", "0.9")

    assert code == 1, output
    assert "FAIL wrong-due (0/1): expect.tasks[0] (key milk): due differ(s)" in output
    assert "pass^1 = 0.667 is below --min-pass 0.9" in output
    report = json.loads((out / "report.json").read_text())
    assert report["pass_hat_k"]["1"] == pytest.approx(2 / 3)
    markdown = (out / "report.md").read_text()
    assert "### wrong-due (0/1)" in markdown and '-  "due": "2026-03-29 10:00"' in markdown
    assert evals("--scenarios", str(scenarios), "--out", str(out))[0] == 0  # --min-pass defaults to 0


def test_what_cannot_run_exits_2(scenarios: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    code, output = evals("--scenarios", str(scenarios), "--filter", "nothing-like-this", "--out", out)
    assert code == 2 and "no scenario matches --filter 'nothing-like-this'" in output
    (scenarios / "broken.yaml").write_text("id: broken\nturns: []\n", encoding="utf-8")
    code, output = evals("--scenarios", str(scenarios), "--out", out)
    assert code == 2 and "bad scenario file(s)" in output and "broken.yaml:" in output
    code, output = evals("--scenarios", str(scenarios), "--filter", "good", "--model", "cohere", "--out", out)
    assert code == 2 and "--model cohere needs CO_API_KEY" in output
    code, output = evals("--scenarios", str(scenarios), "--filter", "good", "--model", "gpt-9", "--out", out)
    assert code == 2 and "--model 'gpt-9' is not known; choose one of: scripted, cohere" in output
