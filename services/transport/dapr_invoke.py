"""Dapr service invocation of the audit log: the web host (caller) reads it from the audit service (callee).

Caller: DaprAuditReader sends `GET {sidecar}/v1.0/invoke/<app id>/method/internal/audit?...` with the AuditQuery
fields and the verified user (`actor_id`, `actor_timezone`, `everyone`) in the query string, and `dapr-api-token`
(DAPR_API_TOKEN) when one is set. The sidecar passes the callee's own status and body back; its own errors are
`{"errorCode": "ERR_DIRECT_INVOKE", ...}` with 500 (the call failed), 403 (access control denied it) or 404 (no app
id). A connection error, a sidecar error or a 5xx of the callee raise AuditUnavailable (the route answers 503);
a 4xx of the callee's own, or an unreadable page, raise AuditRefused (502): the web host validated the query, so
either means the two disagree.

Callee: audit_method_router serves `GET /internal/audit` to the sidecar only: the app token (`dapr-api-token`,
APP_API_TOKEN) or 401, and a `dapr-caller-app-id` among the allowed callers or 403. The sidecar strips any
`dapr-caller-*` header a caller sends and stamps its own, so with the token check that header can be trusted; the
callee then trusts the user the caller names (authorization happened in the web host).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.cursors import decode_id_cursor
from domain.timeutil import zone
from domain.uow import UnitOfWork
from domain.usecases import Actor
from domain.values import ID_MAX
from services.audit_log import AuditPage, AuditQuery, AuditRefused, AuditUnavailable, list_audit
from services.transport.dapr import API_TOKEN_HEADER, SidecarClient, sidecar_only, sidecar_url

logger = logging.getLogger(__name__)

AUDIT_METHOD = "internal/audit"  # the method path of the audit service (the chart's access control allows it)
CALLER_HEADER = "dapr-caller-app-id"  # stamped by the sidecar on every invocation it delivers
_REFUSED_STATUSES = (400, 422)  # the callee's answers to a query it finds invalid


class AuditCaller(BaseModel):
    """The user a call is made for, as the web host verified it; travels beside the AuditQuery fields."""

    model_config = ConfigDict(extra="forbid")

    actor_id: int = Field(ge=1, le=ID_MAX)
    actor_timezone: str = "UTC"  # the user's zone: naive `since` / `until` are the user's local times
    everyone: bool = False  # the admin's view of all users (the web host checked the actor is an admin)

    @field_validator("actor_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except (KeyError, ValueError):
            raise ValueError(f"{value!r} is not a time zone") from None
        return value


def call_params(actor: Actor, query: AuditQuery, *, everyone: bool) -> dict[str, str]:
    """The query string of one call: the AuditQuery fields that are set, and the caller's user."""
    caller = AuditCaller(actor_id=actor.id, actor_timezone=actor.timezone, everyone=everyone)
    fields = {**query.model_dump(mode="json", exclude_none=True), **caller.model_dump(mode="json")}
    return {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in fields.items()}


def parse_call(params: Mapping[str, str]) -> tuple[Actor, AuditQuery, bool]:
    """The user, query and `everyone` of a call's query string; RequestValidationError (422) names what is wrong."""
    caller_names = AuditCaller.model_fields.keys()
    errors: list[Any] = []
    caller = query = None
    try:
        caller = AuditCaller.model_validate({k: v for k, v in params.items() if k in caller_names})
    except ValidationError as exc:
        errors += exc.errors(include_url=False)
    try:
        query = AuditQuery.model_validate({k: v for k, v in params.items() if k not in caller_names})
    except ValidationError as exc:
        errors += exc.errors(include_url=False)
    if errors or caller is None or query is None:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in errors])
    return Actor(id=caller.actor_id, timezone=caller.actor_timezone), query, caller.everyone


class DaprAuditReader(SidecarClient):
    """The AuditReader of a web host whose audit service runs apart: reads through the Dapr sidecar.

    The HTTP client is created on first use unless one is injected (then its owner closes it).
    """

    def __init__(
        self, app_id: str, *, endpoint: str | None = None, host: str = "127.0.0.1", http_port: int = 3500,
        api_token: str | None = None, http_client: httpx.AsyncClient | None = None, timeout: float = 10.0,
    ) -> None:
        super().__init__(timeout=timeout, http_client=http_client)
        self.app_id = app_id
        self.url = f"{sidecar_url(endpoint=endpoint, host=host, http_port=http_port)}/v1.0/invoke/" \
                   f"{quote(app_id, safe='')}/method/{AUDIT_METHOD}"
        self.api_token = api_token or None

    async def read(self, actor: Actor, query: AuditQuery, *, everyone: bool = False) -> AuditPage:
        """The page the audit service answers for this user and query."""
        if query.cursor:
            decode_id_cursor(query.cursor)  # a bad cursor is the user's 422 here, as the local reader gives it
        headers = {API_TOKEN_HEADER: self.api_token} if self.api_token else {}
        try:
            response = await self._http().get(self.url, params=call_params(actor, query, everyone=everyone),
                                              headers=headers)
        except httpx.HTTPError as exc:
            logger.warning("audit invocation of %s failed: %r", self.app_id, exc)
            raise AuditUnavailable(f"the sidecar did not answer: {exc!r}") from exc
        if response.is_success:
            try:
                return AuditPage.model_validate_json(response.content)
            except ValidationError as exc:
                logger.error("audit service %s answered an unreadable page: %s", self.app_id, exc)
                raise AuditRefused("unreadable page") from exc
        detail = f"HTTP {response.status_code}: {response.text[:300]}"
        if response.status_code in _REFUSED_STATUSES and not _sidecar_error(response):
            logger.error("audit service %s refused a validated query: %s", self.app_id, detail)
            raise AuditRefused(detail)
        logger.warning("audit invocation of %s failed with %s", self.app_id, detail)
        raise AuditUnavailable(detail)



def _sidecar_error(response: httpx.Response) -> bool:
    """Whether the sidecar itself answered (`{"errorCode": "ERR_..."}`), not the callee."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and str(body.get("errorCode", "")).startswith("ERR_")


def audit_method_router(uow: UnitOfWork, *, app_token: str | None, callers: Collection[str]) -> APIRouter:
    """`GET /internal/audit` of the audit service, for the sidecar only: 401 without the app token, 403 unless
    `dapr-caller-app-id` is one of `callers`; answers the AuditPage list_audit gives."""
    allowed = frozenset(callers)
    router = APIRouter(dependencies=sidecar_only(app_token), include_in_schema=False)

    @router.get(f"/{AUDIT_METHOD}", response_model=AuditPage)
    async def internal_audit(request: Request) -> AuditPage:
        """The audit log page of the user the calling app names (the web host)."""
        caller = request.headers.get(CALLER_HEADER)
        if caller not in allowed:
            logger.warning("refused an audit invocation by %r", caller)
            raise HTTPException(403, f"the calling app (header {CALLER_HEADER}: {caller or 'missing'}) may not read "
                                     "the audit log")
        actor, query, everyone = parse_call(request.query_params)
        return await list_audit(uow, actor, query, everyone=everyone)

    return router
