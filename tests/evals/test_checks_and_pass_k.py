"""The default checks on hand-made transcripts (the other user's tasks, deletes without approval, failed turns,
and turning them off), and the pass^k estimator C(c,k)/C(n,k) on small cases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from domain.schemas import TaskView
from domain.values import Priority, Status
from evals.report import pass_hat, pass_hat_k
from evals.scenario import Scenario, load_scenario
from evals.score import Transcript, TurnRecord, score
from tests.evals.conftest import base, write

NOW = datetime(2026, 3, 28, 17, 0, tzinfo=UTC)


def view(task_id: int, title: str, *, deleted: bool = False, version: int = 1) -> TaskView:
    return TaskView(id=task_id, title=title, description="", status=Status.OPEN, priority=Priority.NONE, tags=[],
                    due_at=None, due_date=None, all_day=False, due_local=None, reminders=[], recurrence=None,
                    series_id=None, predecessor_id=None, created_at=NOW, updated_at=NOW, completed_at=None,
                    deleted_at=NOW if deleted else None, version=version)


def minimal(tmp_path: Path, **expect: object) -> Scenario:
    data = base(reference=[[{"text": "ok"}]], expect=expect)
    return load_scenario(write(tmp_path, data))


def transcript(*turns: TurnRecord, others_after: list[TaskView] | None = None) -> Transcript:
    others = [view(9, "Bob's plan")]
    return Transcript(turns=list(turns), final=[view(1, "Buy milk"), view(2, "Bake bread")], others_before=others,
                      others_after=others if others_after is None else others_after, model_calls=1,
                      ids={("seed", "milk"): 1, ("seed", "bread"): 2}, now=NOW)


def names(scenario: Scenario, run: Transcript) -> list[str]:
    return [f.expectation for f in score(scenario, run)]


def test_a_clean_transcript_passes(tmp_path: Path) -> None:
    assert names(minimal(tmp_path), transcript(TurnRecord(1, None, text="ok"))) == []


def test_the_other_users_tasks_must_stay_exactly_as_seeded(tmp_path: Path) -> None:
    changed = transcript(TurnRecord(1, None), others_after=[view(9, "Bob's plan", version=2)])
    failures = score(minimal(tmp_path), changed)
    assert [f.expectation for f in failures] == ["check.others_untouched"]
    assert failures[0].expected[0]["version"] == 1 and failures[0].actual[0]["version"] == 2
    assert names(minimal(tmp_path), transcript(TurnRecord(1, None), others_after=[])) == ["check.others_untouched"]
    assert names(minimal(tmp_path, skip_checks=["others_untouched"]), changed) == []


def test_a_delete_needs_an_approval_in_its_own_turn(tmp_path: Path) -> None:
    sneaky = transcript(TurnRecord(1, None, newly_deleted=[2]))
    assert names(minimal(tmp_path), sneaky) == ["check.approval_for_deletes"]
    denied = transcript(TurnRecord(1, None), TurnRecord(2, False, newly_deleted=[2]))
    assert names(minimal(tmp_path), denied) == ["check.approval_for_deletes"]
    approved = transcript(TurnRecord(1, None), TurnRecord(2, True, newly_deleted=[2]))
    assert names(minimal(tmp_path), approved) == []
    assert names(minimal(tmp_path, skip_checks=["approval_for_deletes"]), sneaky) == []


def test_a_failed_turn_fails_unless_expected(tmp_path: Path) -> None:
    failed = transcript(TurnRecord(1, None, error="The model service is unavailable"))
    failures = score(minimal(tmp_path), failed)
    assert [f.expectation for f in failures] == ["check.turn_ok"]
    assert failures[0].message == "turn 1 failed: The model service is unavailable"
    assert names(minimal(tmp_path, turn_fails=True), failed) == []
    assert names(minimal(tmp_path, skip_checks=["turn_ok"]), failed) == []
    assert names(minimal(tmp_path, turn_fails=True), transcript(TurnRecord(1, None))) == ["expect.turn_fails"]


def test_the_runners_problems_are_failures(tmp_path: Path) -> None:
    run = transcript(TurnRecord(1, None))
    run.problems.append(("reference", "turn 1: 1 reference step(s) were not used"))
    assert names(minimal(tmp_path), run) == ["reference"]


@pytest.mark.parametrize(("c", "n", "k", "value"), [
    (5, 5, 1, 1.0), (5, 5, 5, 1.0), (0, 5, 1, 0.0), (3, 5, 1, 0.6), (3, 5, 2, 0.3), (3, 5, 3, 0.1),
    (3, 5, 4, 0.0), (1, 2, 2, 0.0), (4, 8, 2, 6 / 28),
])
def test_pass_hat_k_is_the_unbiased_estimator(c: int, n: int, k: int, value: float) -> None:
    assert pass_hat_k(c, n, k) == pytest.approx(value)


def test_pass_hat_k_averages_over_scenarios_and_refuses_nonsense() -> None:
    assert pass_hat([(3, 3), (0, 3), (2, 3)], 1) == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert pass_hat([(3, 3), (0, 3), (2, 3)], 2) == pytest.approx((1 + 0 + 1 / 3) / 3)
    assert pass_hat([], 1) == 0.0
    for c, n, k in [(1, 2, 3), (3, 2, 1), (1, 2, 0), (-1, 2, 1)]:
        with pytest.raises(ValueError):
            pass_hat_k(c, n, k)
