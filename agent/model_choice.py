"""Choose the chat model: a script, Cohere, an OpenAI-compatible server, or none (the host then asks for
CO_API_KEY).

The values come from the composition root (runtime.chat_settings.ModelConfig reads them from the environment)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.model import ChatModel

if TYPE_CHECKING:
    import httpx

NO_MODEL_HELP = ("no chat model configured: set CO_API_KEY (or COHERE_API_KEY) to a key from dashboard.cohere.com, "
                 "or TODO_AGENT_MODEL=openai with TODO_AGENT_OPENAI_BASE_URL and TODO_AGENT_OPENAI_MODEL (a local "
                 "server such as Ollama), or TODO_AGENT_MODEL=scripted:<file>, and start again "
                 "(README: \"The chat model\")")


def build_model(
    *,
    script: str | None = None,
    api_key: str | None = None,
    cohere_model: str | None = None,
    base_url: str | None = None,
    httpx_client: httpx.AsyncClient | None = None,
) -> ChatModel | None:
    """A model replaying the `script` file; else Cohere when there is a key; else None (see NO_MODEL_HELP)."""
    if script is not None:
        from agent.scripted_model import ScriptedModel

        return ScriptedModel.from_file(script)
    if not api_key:
        return None
    from agent.cohere_model import DEFAULT_MODEL, CohereModel

    return CohereModel(api_key=api_key, model=cohere_model or DEFAULT_MODEL, base_url=base_url or None,
                       httpx_client=httpx_client)


def build_openai_model(
    *, base_url: str, model: str, api_key: str | None = None, http_client: httpx.AsyncClient | None = None
) -> ChatModel:
    """A model on an OpenAI-compatible chat-completions API (hosted, or a local server such as Ollama)."""
    from agent.openai_model import OpenAIModel

    return OpenAIModel(base_url=base_url, model=model, api_key=api_key, http_client=http_client)


def model_label(model: ChatModel) -> str:
    """The model's name as the hosts show it (e.g. "openai qwen2.5:7b at http://127.0.0.1:11434/v1"): its `label`,
    or its class name for a model without one (a test double)."""
    label = getattr(model, "label", None)
    return label if isinstance(label, str) and label else type(model).__name__
