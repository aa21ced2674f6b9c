"""The evals runner on the OpenAI-compatible adapter: `--model openai` picks it with the chat's own settings, and a
scenario runs through it (the real `openai` SDK) against tests/openai_fake.py, which answers as an OpenAI-compatible
chat server streams (the model server is mocked because none runs here); the trial is judged like any other."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import typer

from agent.model import ChatModel
from agent.openai_model import OpenAIModel
from evals.runner import ModelChoice, RunOptions, run_scenarios
from runtime.cli.evals import CANNOT_RUN, model_choice
from runtime.migrate import upgrade
from tests.evals.conftest import Offline, base
from tests.openai_fake import MODEL, FakeOpenAI, text_stream, tool_answer

SETTINGS = ("TODO_AGENT_MODEL", "TODO_AGENT_OPENAI_BASE_URL", "TODO_AGENT_OPENAI_MODEL", "TODO_AGENT_OPENAI_API_KEY")


def good_agent(request: httpx.Request) -> httpx.Response:
    """A model that plays the base scenario's path: search, move the task it found, then say so."""
    messages = json.loads(request.content)["messages"]
    results = [json.loads(m["content"]) for m in messages if m["role"] == "tool"]
    if not results:
        return tool_answer("search_tasks", {"query": "milk"})
    if len(results) == 1:
        return tool_answer("set_due_date", {"task_id": results[0]["data"][0]["id"], "due_at": "tomorrow 9am"})
    return text_stream("Moved **Buy milk** to tomorrow ", "at 09:00.")


async def test_a_scenario_runs_through_the_openai_adapter_and_is_judged(offline: Offline) -> None:
    fake = FakeOpenAI(good_agent)

    def factory() -> ChatModel:
        return fake.model()

    report = await run_scenarios([offline.scenario(base())], ModelChoice("openai", factory, backoff=0.0), upgrade,
                                 RunOptions(template=offline.template))
    (result,) = report.scenarios
    assert (result.passed, result.failures) == (1, [])
    assert len(fake.requests) == 3 and all(r.url.path == "/v1/chat/completions" for r in fake.requests)
    assert all(body["model"] == MODEL and body["tools"] for body in fake.bodies())
    assert report.cost()["model_calls"] == 3


async def test_a_model_that_writes_calls_as_text_fails_the_trial_with_the_sentence(offline: Offline) -> None:
    fake = FakeOpenAI(text_stream('{"name": "search_tasks", "arguments": {"query": "milk"}}'))
    report = await run_scenarios([offline.scenario(base())], ModelChoice("openai", fake.model, backoff=0.0),
                                 upgrade, RunOptions(template=offline.template))
    messages = [f["message"] for f in report.scenarios[0].failures]
    assert report.scenarios[0].passed == 0 and len(fake.requests) == 1  # not retried: another try would do the same
    assert any("wrote a tool call as text" in m for m in messages), messages


def test_model_openai_reads_the_chat_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TODO_AGENT_OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("TODO_AGENT_OPENAI_MODEL", "qwen2.5:7b")
    choice, price_name = model_choice("openai")
    assert (choice.name, price_name, choice.offline) == ("openai", "qwen2.5:7b", False)
    assert choice.factory is not None
    model: Any = choice.factory()
    assert isinstance(model, OpenAIModel) and model.label == "openai qwen2.5:7b at http://127.0.0.1:11434/v1"
    assert choice.factory() is not model  # a fresh model per trial


def test_model_openai_without_its_settings_cannot_run_and_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TODO_AGENT_OPENAI_MODEL", "qwen2.5:7b")
    with pytest.raises(typer.Exit) as stopped:
        model_choice("openai")
    assert stopped.value.exit_code == CANNOT_RUN
    assert capsys.readouterr().err.startswith("error: --model openai: TODO_AGENT_MODEL=openai needs "
                                              "TODO_AGENT_OPENAI_BASE_URL:")
