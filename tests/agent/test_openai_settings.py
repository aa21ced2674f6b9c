"""The OpenAI-compatible adapter's conversions and settings: the agent's messages as chat-completion messages,
what counts as a tool call written as text, and how TODO_AGENT_MODEL=openai and its variables choose the model
(with a sentence naming a missing one). The model server is mocked (tests/openai_fake.py, the real SDK) because none
runs here."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.model import ModelEnd, ModelText
from agent.model_choice import model_label
from agent.openai_model import OpenAIModel
from agent.openai_tools import looks_like_a_call, openai_messages
from runtime.chat_settings import ModelConfig
from runtime.cli.support import describe
from tests.openai_fake import URL, FakeOpenAI, text_stream

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "add milk"}]
NAMES = frozenset({"add_task", "delete_task"})


def test_the_conversation_is_converted_to_chat_completion_messages():
    cohere_shaped = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "add milk and bread"},
        {"role": "assistant", "tool_plan": "Adding both.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add_task", "arguments": '{"title": "milk"}'}},
            {"id": "c2", "type": "function", "function": {"name": "add_task", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "document", "document": {"data": '{"id": 1}'}}]},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "document", "document": {"data": {"id": 2}}}]},
        {"role": "assistant", "tool_calls": [
            {"id": "c3", "type": "function", "function": {"name": "whoami", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c3", "content": []},
        {"role": "assistant", "content": "Done."},
    ]
    assert openai_messages(cohere_shaped) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "add milk and bread"},
        {"role": "assistant", "content": "Adding both.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add_task", "arguments": '{"title": "milk"}'}},
            {"id": "c2", "type": "function", "function": {"name": "add_task", "arguments": "{}"}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"id": 1}'},
        {"role": "tool", "tool_call_id": "c2", "content": '{"id": 2}'},
        {"role": "assistant", "tool_calls": [
            {"id": "c3", "type": "function", "function": {"name": "whoami", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c3", "content": ""},
        {"role": "assistant", "content": "Done."},
    ]


@pytest.mark.parametrize("text", [
    '<tool_call>\n{"name": "add_task", "arguments": {"title": "milk"}}\n</tool_call>',
    '{"name": "add_task", "arguments": {"title": "milk"}}',
    'Sure!\n```json\n{"name": "add_task", "parameters": {"title": "milk"}}\n```',
    '[{"type": "function", "function": {"name": "add_task", "arguments": "{}"}}]',
    '<|python_tag|>{"name": "whatever"}',
    '[TOOL_CALLS][{"name": "add_task", "arguments": {"title": "milk"}}]',
    "<function=add_task>{\"title\": \"milk\"}</function>",
])
def test_a_call_written_as_text_is_recognised(text: str):
    assert looks_like_a_call(text, NAMES)


@pytest.mark.parametrize("text", [
    "I added **milk** with add_task.",
    '{"title": "milk", "due": null}',
    '{"name": "Ada", "arguments": "none"}',  # JSON naming no offered tool
    '{"name": "add_task"}',  # a name without arguments is data, not a call
    'Use {"name": broken json',
    "",
])
def test_answers_that_only_look_technical_are_answers(text: str):
    assert not looks_like_a_call(text, NAMES)


def model_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModelConfig:
    """The chat model's settings read from an environment holding only `env` of the variables they read."""
    for name in ("CO_API_KEY", "COHERE_API_KEY", "CO_API_URL", "TODO_AGENT_MODEL", "TODO_AGENT_OPENAI_BASE_URL",
                 "TODO_AGENT_OPENAI_MODEL", "TODO_AGENT_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ModelConfig()


async def test_the_settings_choose_the_server_the_model_and_the_key(monkeypatch: pytest.MonkeyPatch):
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    fake = FakeOpenAI(text_stream("hi"))
    config = model_env(monkeypatch, TODO_AGENT_MODEL="openai", TODO_AGENT_OPENAI_BASE_URL="http://127.0.0.1:8080/v1",
                       TODO_AGENT_OPENAI_MODEL="local-model", TODO_AGENT_OPENAI_API_KEY="sk-test", CO_API_KEY="co")
    model = config.chat_model(httpx_client=fake.client())
    assert isinstance(model, OpenAIModel)
    assert model_label(model) == "openai local-model at http://127.0.0.1:8080/v1"
    assert [e async for e in model.stream(MESSAGES, [])] == [ModelText("hi"), ModelEnd("COMPLETE")]
    (request,) = fake.requests
    assert str(request.url) == "http://127.0.0.1:8080/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test" and fake.bodies()[0]["model"] == "local-model"


@pytest.mark.parametrize(("env", "missing"), [
    ({"TODO_AGENT_OPENAI_MODEL": "m"}, "needs TODO_AGENT_OPENAI_BASE_URL:"),
    ({"TODO_AGENT_OPENAI_BASE_URL": URL}, "needs TODO_AGENT_OPENAI_MODEL:"),
    ({"TODO_AGENT_OPENAI_BASE_URL": ""}, "needs TODO_AGENT_OPENAI_BASE_URL and TODO_AGENT_OPENAI_MODEL:"),
])
def test_a_missing_setting_is_a_sentence_naming_it(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                                   missing: str):
    with pytest.raises(ValidationError) as failure:
        model_env(monkeypatch, TODO_AGENT_MODEL="openai", **env)
    sentence = describe(failure.value)
    assert sentence.startswith(f"TODO_AGENT_MODEL=openai {missing}") and "http://127.0.0.1:11434/v1" in sentence


def test_the_other_models_have_labels_too(monkeypatch: pytest.MonkeyPatch, tmp_path):
    cohere = model_env(monkeypatch, CO_API_KEY="k").chat_model()
    assert cohere is not None and model_label(cohere) == "cohere command-a-03-2025"
    script = tmp_path / "s.json"
    script.write_text('[{"text": "hi"}]')
    scripted = model_env(monkeypatch, TODO_AGENT_MODEL=f"scripted:{script}").chat_model()
    assert scripted is not None and model_label(scripted) == f"scripted {script}"
    with pytest.raises(ValidationError, match="'openai'"):
        model_env(monkeypatch, TODO_AGENT_MODEL="gpt")
