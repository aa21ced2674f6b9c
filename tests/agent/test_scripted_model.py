"""The scripted model: steps replayed in order, text streamed in pieces, and `{{results[...]}}` references resolved
against the conversation's earlier tool results by a small path evaluator (never eval)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.model import ModelEnd, ModelText, ModelToolCall, ModelUnavailable
from agent.script_refs import ScriptError, resolve, substitute
from agent.scripted_model import ScriptedModel, ScriptStep, tool_results

RESULTS: list[Any] = [{"data": [{"id": 7, "title": "A"}, {"id": 8}], "count": 2}, {"id": 42, "title": "Milk"}]


def tool_message(data: Any) -> dict[str, Any]:
    document = {"type": "document", "document": {"data": json.dumps(data)}}
    return {"role": "tool", "tool_call_id": "c", "content": [document]}


@pytest.mark.parametrize(
    ("path", "value"),
    [("results[-1].id", 42), ("results[0].data[1].id", 8), ("results[0].count", 2), ("results[1]", RESULTS[1])],
)
def test_paths_resolve_into_earlier_results(path: str, value: Any):
    assert resolve(path, RESULTS) == value


@pytest.mark.parametrize("path", ["results[5].id", "results[-1].missing", "results[0].data.id", "results[1].title[0]"])
def test_a_path_that_does_not_resolve_says_where_it_stopped(path: str):
    with pytest.raises(ScriptError, match="does not resolve"):
        resolve(path, RESULTS)


def test_a_whole_reference_keeps_its_type_and_an_embedded_one_becomes_text():
    arguments = {"task_id": "{{results[-1].id}}", "title": "Copy of {{ results[-1].title }}",
                 "task_ids": ["{{results[0].data[0].id}}", "{{results[0].data[1].id}}"], "limit": 3}
    assert substitute(arguments, RESULTS) == {"task_id": 42, "title": "Copy of Milk", "task_ids": [7, 8], "limit": 3}


def test_code_in_a_reference_is_just_text():
    assert substitute("{{__import__('os').system('x')}}", RESULTS) == "{{__import__('os').system('x')}}"


async def test_steps_play_in_order_with_text_in_pieces_and_references_resolved():
    lookup = {"name": "get_task", "arguments": {"task_id": "{{results[-1].id}}"}}
    model = ScriptedModel([
        ScriptStep.model_validate({"text": "a" * 20, "tool_calls": [lookup]}),
        ScriptStep(text="done"),
    ], chunk=8)
    first = [e async for e in model.stream([tool_message(RESULTS[1])], [])]
    assert [e for e in first if isinstance(e, ModelText)] == [ModelText("a" * 8), ModelText("a" * 8), ModelText("aaaa")]
    (called,) = [e for e in first if isinstance(e, ModelToolCall)]
    assert (called.name, json.loads(called.arguments)) == ("get_task", {"task_id": 42})
    assert first[-1] == ModelEnd("TOOL_CALL")
    assert [e async for e in model.stream([], [])] == [ModelText("done"), ModelEnd("COMPLETE")]
    with pytest.raises(ModelUnavailable, match="no step 3"):
        [e async for e in model.stream([], [])]


async def test_a_bad_reference_is_a_model_failure_naming_the_problem():
    step = {"tool_calls": [{"name": "x", "arguments": {"a": "{{results[0].id}}"}}]}
    model = ScriptedModel([ScriptStep.model_validate(step)])
    with pytest.raises(ModelUnavailable, match="script is wrong"):
        [e async for e in model.stream([], [])]


def test_tool_results_are_read_from_tool_messages_only():
    messages = [{"role": "user", "content": "{}"}, tool_message({"id": 1}), {"role": "assistant", "content": "x"},
                {"role": "tool", "tool_call_id": "d", "content": [{"type": "document", "document": {"data": "plain"}}]}]
    assert tool_results(messages) == [{"id": 1}, "plain"]


def test_a_script_file_that_is_not_a_list_of_steps_is_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"txt": 1}, 5]')
    with pytest.raises(ScriptError, match="cannot read the model script"):
        ScriptedModel.from_file(bad)
    with pytest.raises(ScriptError):
        ScriptedModel.from_file(tmp_path / "missing.json")


def test_a_malformed_path_is_refused():
    with pytest.raises(ScriptError, match="not a reference"):
        resolve("results[1].title x", RESULTS)
