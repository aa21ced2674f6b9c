"""RFC 9457 problem details: every error of the REST API, mapped once from domain errors and validation."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from agent.store import ConversationNotFound
from domain.errors import AuthenticationFailed, Conflict, DomainError, InvalidInput, NotFound
from domain.sqlite_inline import DatabaseBusy
from mcp_server.errors import field_name, sentences, union_member

PROBLEM_JSON = "application/problem+json"
_STATUS = [(InvalidInput, 422), (NotFound, 404), (Conflict, 409), (AuthenticationFailed, 401)]


class FieldError(BaseModel):
    field: str
    rule: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem: `type`, `title`, `status`, `detail`; `field` and `errors` name what to fix."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[FieldError] | None = None


def problem_response(
    status: int, title: str, detail: str, *, code: str | None = None, field: str | None = None,
    errors: list[FieldError] | None = None, headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"https://todo-agent.dev/problems/{code}" if code else "about:blank",
        title=title, status=status, detail=detail, field=field, errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def unauthorized(detail: str) -> JSONResponse:
    return problem_response(401, "Unauthorized", detail, code="unauthorized", headers={"WWW-Authenticate": "Bearer"})


def _status_of(exc: DomainError) -> int:
    return next((status for kind, status in _STATUS if isinstance(exc, kind)), 400)


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if isinstance(exc, AuthenticationFailed):
        return unauthorized(exc.message)
    status = _status_of(exc)
    errors = [FieldError(field=exc.field, rule=exc.code, message=exc.message)] if exc.field else None
    return problem_response(status, _title(status), exc.message, code=exc.code, field=exc.field, errors=errors)


_SOURCES = ("body", "query", "path", "header", "cookie")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in _SOURCES and not isinstance(p, int) and not union_member(p)]
    return ".".join(parts) or "body"


def _detail(errors: Sequence[Any]) -> str:
    """The validation errors as sentences naming each field (`tags[0] must be a string (got 1).`)."""
    return sentences((field_name(e["loc"], skip=_SOURCES) or "the request body", e) for e in errors)


async def _conversation_not_found(request: Request, exc: Exception) -> JSONResponse:
    """The agent's store knows no domain errors: its lookups fail as 404 on the conversation_id field."""
    conversation_id = exc.args[0] if exc.args else ""
    return await _domain_error(request, NotFound(f"conversation {conversation_id} not found", field="conversation_id"))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(field=_location(e["loc"]), rule=e["type"], message=e["msg"]) for e in exc.errors()]
    detail = _detail(exc.errors())
    return problem_response(422, "Invalid request", detail, code="validation_error",
                            field=errors[0].field if errors else None, errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    return problem_response(exc.status_code, _title(exc.status_code), str(exc.detail), headers=headers or None)


async def _database_busy(_: Request, _exc: Exception) -> JSONResponse:
    """A write that waited out its budget for SQLite's lock: nothing was written; the client may retry."""
    return problem_response(503, "Service Unavailable", "the database is busy with other writes and nothing was "
                            "saved; send the same request again in a moment", code="database_busy",
                            headers={"Retry-After": "1"})


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def install(app: FastAPI) -> None:
    """Answer every error of `app` as problem+json."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(ConversationNotFound, _conversation_not_found)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DatabaseBusy, _database_busy)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI description of the problem responses a route can give."""
    text = {400: "Bad request", 401: "Missing, invalid, expired or revoked token", 403: "Forbidden",
            404: "Not found (also another user's resource)", 409: "Version or idempotency conflict",
            422: "Invalid input: `field` and `errors` name what to fix", 429: "Too many attempts",
            503: "The database is busy: nothing was saved; retry after Retry-After seconds"}
    return {s: {"model": Problem, "description": text.get(s, "Error"),
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}} for s in statuses}
