"""The chat's settings from the environment: the agent's limits (`AgentConfig`) and the chat model
(`ModelConfig`), each a pydantic-settings model; the agent itself takes the plain values they make."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent.settings import AgentSettings

if TYPE_CHECKING:
    import httpx

    from agent.model import ChatModel

_AGENT = AgentSettings()  # the defaults: the agent's own


class AgentConfig(BaseSettings):
    """The agent's variables: guards, approvals, session timeout, token budget, caches and turn limits."""

    model_config = SettingsConfigDict(env_prefix="TODO_AGENT_", extra="ignore")

    max_model_calls: int = Field(default=_AGENT.max_model_calls, ge=1)
    model_timeout_seconds: float = Field(default=_AGENT.model_timeout, gt=0)
    tool_timeout_seconds: float = Field(default=_AGENT.tool_timeout, gt=0)
    # Comma-separated tool names; empty: no tool waits for approval.
    approval_tools: Annotated[frozenset[str], NoDecode] = _AGENT.approval_tools
    session_timeout_minutes: float = Field(default=_AGENT.session_timeout / timedelta(minutes=1), gt=0)
    token_budget: int = Field(default=_AGENT.token_budget, ge=1)
    tools_cache_seconds: float = Field(default=_AGENT.tools_ttl.total_seconds(), ge=0)
    timezone_cache_seconds: float = Field(default=_AGENT.timezone_ttl.total_seconds(), ge=0)
    chat_turns_per_user: int = _AGENT.turns_per_user
    tool_session_idle_seconds: float = Field(default=_AGENT.tool_session_idle.total_seconds(), ge=0)

    @field_validator("approval_tools", mode="before")
    @classmethod
    def _names(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(name.strip() for name in value.split(",") if name.strip())
        return value

    def as_settings(self) -> AgentSettings:
        """The plain settings the agent takes."""
        return AgentSettings(
            max_model_calls=self.max_model_calls,
            model_timeout=self.model_timeout_seconds,
            tool_timeout=self.tool_timeout_seconds,
            approval_tools=self.approval_tools,
            session_timeout=timedelta(minutes=self.session_timeout_minutes),
            token_budget=self.token_budget,
            tools_ttl=timedelta(seconds=self.tools_cache_seconds),
            timezone_ttl=timedelta(seconds=self.timezone_cache_seconds),
            turns_per_user=max(1, self.chat_turns_per_user),  # one turn at a time is the least
            tool_session_idle=timedelta(seconds=self.tool_session_idle_seconds),
        )


SCRIPTED = "scripted:"
OPENAI = "openai"


class ModelConfig(BaseSettings):
    """The chat model: TODO_AGENT_MODEL (`cohere`, the default, `openai` or `scripted:<file>`); Cohere's key, model
    and base URL, read the way the Cohere SDK reads them (CO_API_KEY, else COHERE_API_KEY; CO_API_URL); and for
    `openai` an OpenAI-compatible server: TODO_AGENT_OPENAI_BASE_URL and TODO_AGENT_OPENAI_MODEL (both required)
    and TODO_AGENT_OPENAI_API_KEY (optional: local servers need none). An empty variable counts as unset."""

    model_config = SettingsConfigDict(env_prefix="TODO_AGENT_", extra="ignore", env_ignore_empty=True)

    model: str = "cohere"
    cohere_model: str | None = None  # None: agent.cohere_model.DEFAULT_MODEL
    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("CO_API_KEY", "COHERE_API_KEY", "api_key")
    )
    api_url: str | None = Field(default=None, validation_alias=AliasChoices("CO_API_URL", "api_url"))
    openai_base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1 (Ollama)
    openai_model: str | None = None  # e.g. qwen2.5:7b
    openai_api_key: SecretStr | None = None

    @field_validator("model", mode="after")
    @classmethod
    def _choice(cls, value: str) -> str:
        choice = value.strip() or "cohere"
        if choice not in ("cohere", OPENAI) and not choice.startswith(SCRIPTED):
            raise ValueError(f"must be 'cohere' (the default), 'openai' or 'scripted:<file>' (got {value!r})")
        return choice

    @model_validator(mode="after")
    def _openai_needs(self) -> ModelConfig:
        if self.model != OPENAI:
            return self
        missing = [name for name, value in (("TODO_AGENT_OPENAI_BASE_URL", self.openai_base_url),
                                            ("TODO_AGENT_OPENAI_MODEL", self.openai_model)) if not value]
        if missing:
            raise ValueError(
                f"TODO_AGENT_MODEL=openai needs {' and '.join(missing)}: the server's OpenAI-compatible API (e.g. "
                "http://127.0.0.1:11434/v1 for Ollama) and the model's name there (e.g. qwen2.5:7b)")
        return self

    def chat_model(self, *, httpx_client: httpx.AsyncClient | None = None) -> ChatModel | None:
        """The model these settings choose, or None when none is configured (agent.model_choice.NO_MODEL_HELP)."""
        from agent.model_choice import build_model

        if self.model == OPENAI:
            from agent.model_choice import build_openai_model

            assert self.openai_base_url and self.openai_model  # the validator made sure
            key = self.openai_api_key.get_secret_value() if self.openai_api_key is not None else None
            return build_openai_model(base_url=self.openai_base_url, model=self.openai_model, api_key=key,
                                      http_client=httpx_client)
        script = self.model.removeprefix(SCRIPTED) if self.model.startswith(SCRIPTED) else None
        key = self.api_key.get_secret_value() if self.api_key is not None else None
        return build_model(script=script, api_key=key, cohere_model=self.cohere_model, base_url=self.api_url,
                           httpx_client=httpx_client)
