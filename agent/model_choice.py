"""Choose the chat model from the environment: a script, Cohere, or none (the host then asks for CO_API_KEY)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from agent.model import ChatModel

if TYPE_CHECKING:
    import httpx

SCRIPTED = "scripted:"
NO_MODEL_HELP = ("no chat model configured: set CO_API_KEY (or COHERE_API_KEY) to a key from dashboard.cohere.com, "
                 "or TODO_AGENT_MODEL=scripted:<file>, and start again (README: \"The chat model\")")


def build_model(env: Mapping[str, str], *, httpx_client: httpx.AsyncClient | None = None) -> ChatModel | None:
    """TODO_AGENT_MODEL=scripted:<file> replays a script; else Cohere when a key is set; else None (NO_MODEL_HELP)."""
    choice = env.get("TODO_AGENT_MODEL", "").strip()
    if choice.startswith(SCRIPTED):
        from agent.scripted_model import ScriptedModel

        return ScriptedModel.from_file(choice[len(SCRIPTED) :])
    if choice not in ("", "cohere"):
        raise ValueError(f"TODO_AGENT_MODEL={choice!r}: use 'cohere' (the default) or 'scripted:<file>'")
    key = env.get("CO_API_KEY") or env.get("COHERE_API_KEY")
    if not key:
        return None
    from agent.cohere_model import DEFAULT_MODEL, CohereModel

    return CohereModel(
        api_key=key,
        model=env.get("TODO_AGENT_COHERE_MODEL") or DEFAULT_MODEL,
        base_url=env.get("CO_API_URL") or None,
        httpx_client=httpx_client,
    )
