"""Settings from the environment, one pydantic-settings model per concern (prefix TODO_AGENT_): the host's
(`Settings`) and the services' (`ServiceConfig`) here, the agent's and the chat model's in runtime.chat_settings;
and the signing secret kept in the data directory. Nothing else reads the environment: `agent/` and `services/`
take the plain values these make."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import stat
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.settings import ServiceSettings

logger = logging.getLogger(__name__)

_SECRET_FILE = "secret_key"
_SECRET_MIN = 32


class Settings(BaseSettings):
    """Every knob of todo-agent; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="TODO_AGENT_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path("todo-agent"))
    database_url: str | None = None
    # SQLite's driver: "inline" (sqlite3 on the event loop's thread) or "aiosqlite" (a thread per connection);
    # unset: domain.db.DEFAULT_SQLITE_DRIVER, the faster one in bench/sqlite_driver.py.
    sqlite_driver: Literal["inline", "aiosqlite"] | None = None
    secret_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    bus: Literal["inprocess", "kafka", "dapr"] = "inprocess"
    lease_ttl_seconds: float = 15.0
    lease_renew_seconds: float = 5.0
    relay_poll_seconds: float = 0.2
    relay_batch: int = 100
    retention_days: int = 7
    allow_registration: bool = True
    # Registrations one client address may attempt per hour (429 with Retry-After beyond it).
    register_per_hour: int = Field(default=10, ge=1)
    # Peers whose X-Forwarded-For names the client (comma-separated IPs or CIDRs, e.g. the ingress); empty: none.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Open connections and requests uvicorn serves at once; beyond it new ones get 503 (limit_concurrency).
    max_connections: int = Field(default=1000, ge=1)
    # `todo-agent serve` worker processes on the one socket; unset: 1, or every usable core in production.
    web_workers: int | None = Field(default=None, ge=1, le=256)
    access_token_minutes: float = Field(default=30.0, gt=0, le=24 * 60)  # the page renews its token before
    # A login session ends this long after the password was checked, however often it is refreshed.
    session_max_hours: float = Field(default=12.0, gt=0, le=24 * 90)
    # How often an open /api/v1/stream re-checks its token: a revoked one ends the stream within this time.
    stream_recheck_seconds: float = Field(default=5.0, gt=0, le=3600)
    # How long a process remembers a verified bearer token (no query per request); 0: verify every request. A
    # revocation shows at once in the process that made it, elsewhere within this time (domain.caller_cache).
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    log_level: str = "INFO"
    # Request bodies larger than this get 413 before they are read (REST, chat and MCP alike).
    max_body_bytes: int = Field(default=1 << 20, ge=1)
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1:*", "localhost:*", "[::1]:*"],
        description="Host headers the MCP endpoint accepts (comma-separated; 'name:*' allows any port)",
    )
    public_url: str | None = None  # how clients reach this server, e.g. https://todo.example.com
    # The Kafka transport (TODO_AGENT_BUS=kafka): brokers, and the consumer settings that bound delivery latency
    # (fetch wait) and how fast a restarted service rejoins its group (session timeout and heartbeat).
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=0)
    kafka_session_timeout_ms: int = Field(default=10_000, gt=0)
    kafka_heartbeat_interval_ms: int = Field(default=3_000, gt=0)
    # The Dapr transport (TODO_AGENT_BUS=dapr): the pub/sub component, and the sidecar's port and API token, read
    # from Dapr's own variables as the Dapr SDKs do (DAPR_RUNTIME_HOST / DAPR_HTTP_ENDPOINT are honoured too).
    dapr_pubsub: str = "pubsub"
    dapr_http_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("DAPR_HTTP_ENDPOINT", "dapr_http_endpoint")
    )
    dapr_runtime_host: str = Field(
        default="127.0.0.1", validation_alias=AliasChoices("DAPR_RUNTIME_HOST", "dapr_runtime_host")
    )
    dapr_http_port: int = Field(default=3500, validation_alias=AliasChoices("DAPR_HTTP_PORT", "dapr_http_port"))
    dapr_api_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DAPR_API_TOKEN", "dapr_api_token")
    )
    # The sidecar's app API token (Dapr's APP_API_TOKEN, sent as `dapr-api-token`): the delivery routes refuse
    # requests without it; required in production with TODO_AGENT_BUS=dapr.
    dapr_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("APP_API_TOKEN", "dapr_app_token")
    )
    # Dapr's building blocks beyond publishing (TODO_AGENT_BUS=dapr; the Helm chart sets them all):
    # - the pub/sub component the web host's live feed subscribes through (the chart's per-pod consumer group, so
    #   every web replica sees every event); unset: dapr_pubsub
    dapr_live_pubsub: str | None = None
    # - the state store the reminder and recurrence services keep their inbox in; empty: the inbox table in SQL
    dapr_state_store: str = "statestore"
    # - cron input bindings (POST /bindings/<name>) drive the reminder sweep and retention instead of in-process
    #   timers; each tick does the work only in the replica holding that job's lease
    dapr_cron_bindings: bool = True
    # - the audit service's app id: when set, the web host reads the audit log through Dapr service invocation
    dapr_audit_app_id: str | None = None
    # - the app ids the audit service answers /internal/audit for (checked on `dapr-caller-app-id`)
    dapr_audit_callers: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["todo-agent-web"])
    # Streamable-HTTP MCP sessions: how many one user may hold open (the least recently used is closed first), how
    # long an idle one lives, and how often each open session's token is verified again (revocation ends it).
    mcp_sessions_per_user: int = Field(default=20, ge=1)
    mcp_session_idle_seconds: float = Field(default=300.0, gt=0)
    mcp_recheck_seconds: float = Field(default=5.0, gt=0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> object:
        entries = [p.strip() for p in value.split(",") if p.strip()] if isinstance(value, str) else value
        for entry in entries if isinstance(entries, list) else []:
            try:
                ipaddress.ip_network(str(entry), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network, e.g. 10.0.0.0/8") from None
        return entries

    @field_validator("allowed_hosts", "dapr_audit_callers", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @model_validator(mode="after")
    def _secret_strength(self) -> Settings:
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < _SECRET_MIN:
            raise ValueError(f"TODO_AGENT_SECRET_KEY must be at least {_SECRET_MIN} characters")
        return self

    @property
    def db_url(self) -> str:
        """TODO_AGENT_DATABASE_URL, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'todo-agent.db'}"

    @property
    def worker_count(self) -> int:
        """How many processes `todo-agent serve` runs: TODO_AGENT_WEB_WORKERS, else 1 in development and test and
        the cores this process may run on in production (on Dapr 1: a pod's sidecar delivers each live event to
        one worker of the pod, so pods scale by replicas)."""
        if self.web_workers is not None:
            return self.web_workers
        return len(os.sched_getaffinity(0)) if self.env == "production" and self.bus != "dapr" else 1

    @property
    def uses_default_database(self) -> bool:
        return not self.database_url

    def signing_secret(self) -> str:
        """TODO_AGENT_SECRET_KEY, else a secret generated into the data directory on first use."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.env == "production":
            raise ValueError("set TODO_AGENT_SECRET_KEY in production")
        path = self.data_dir / _SECRET_FILE
        self.ensure_data_dir()
        try:
            # Write to a private temporary file, then link it into place: a crash never leaves an empty secret,
            # and of two processes starting at once, the second reads the first one's secret.
            tmp = path.with_name(f".{_SECRET_FILE}.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return _read_secret(path)

    def ensure_data_dir(self) -> Path:
        """The data directory, created private to its owner (0700). It holds the database and the secret, so the
        default directory is tightened if an older version left it open; one chosen with TODO_AGENT_DATA_DIR is the
        user's to set, so an open one is only warned about."""
        path = self.data_dir
        try:
            path.mkdir(mode=0o700, parents=True)
            return path
        except FileExistsError:
            pass
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077 and "data_dir" not in self.model_fields_set:
            path.chmod(mode & 0o700)
        elif mode & 0o077 and path not in _warned:
            _warned.add(path)
            logger.warning("%s (TODO_AGENT_DATA_DIR) is open to other users (mode %03o) and holds the database and "
                           "the signing secret: chmod 700 %s", path, mode, path)
        return path

    @property
    def sidecar_token(self) -> str | None:
        """DAPR_API_TOKEN, the token every call to the Dapr sidecar carries, or None."""
        return self.dapr_api_token.get_secret_value() if self.dapr_api_token is not None else None

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


_warned: set[Path] = set()  # open directories already warned about


def _read_secret(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        raise ValueError(f"{path} must be readable by its owner only: chmod 600 {path}")
    secret = path.read_text().strip()
    if len(secret) < _SECRET_MIN:
        raise ValueError(f"{path} holds no usable secret; delete it to generate a new one")
    return secret


_SERVICE = ServiceSettings()  # the defaults: the services' own


class ServiceConfig(BaseSettings):
    """The services' variables: reminder times, the scheduler's pace and the live stream's limits."""

    model_config = SettingsConfigDict(env_prefix="TODO_AGENT_", extra="ignore")

    all_day_reminder_time: time = _SERVICE.all_day_reminder_time  # HH:MM, local to the task's owner
    reminder_grace_seconds: float = Field(default=_SERVICE.reminder_grace.total_seconds(), ge=0)
    scheduler_seconds: float = Field(default=_SERVICE.scheduler_every, ge=0)
    live_buffer: int = Field(default=_SERVICE.live_buffer, ge=0)
    stream_ping_seconds: float = Field(default=_SERVICE.stream_ping_seconds, ge=0)
    streams_per_user: int = Field(default=_SERVICE.streams_per_user, ge=1)
    streams_max: int = Field(default=_SERVICE.streams_max, ge=1)

    @field_validator("all_day_reminder_time", mode="before")
    @classmethod
    def _time_of_day(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return time.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"must be a time of day, e.g. 09:00 (got {value!r})") from None
        return value

    def as_settings(self) -> ServiceSettings:
        """The plain settings the services take."""
        return ServiceSettings(
            all_day_reminder_time=self.all_day_reminder_time,
            reminder_grace=timedelta(seconds=self.reminder_grace_seconds),
            scheduler_every=self.scheduler_seconds,
            live_buffer=self.live_buffer,
            stream_ping_seconds=self.stream_ping_seconds,
            streams_per_user=self.streams_per_user,
            streams_max=self.streams_max,
        )
