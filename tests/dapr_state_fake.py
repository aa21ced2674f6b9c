"""A fake Dapr sidecar state API over one `state.postgresql` v2 store, for httpx.MockTransport.

It answers as daprd 1.17/1.18 does (facts note, b6), as read from the sources: dapr/dapr `pkg/api/http/http.go`
(onGetState, onPostState, onDeleteState, stateErrorResponse), `pkg/api/http/server.go` (path parameters are
query-unescaped), `pkg/api/http/middlewares.go` (the API token), `pkg/components/state/state_config.go` (the
keyPrefix, and "||" refused in keys), and dapr/components-contrib `state/postgresql/v2/postgresql.go`:

- every request without the configured `dapr-api-token` gets 401 "invalid api token" (text/plain);
- an unknown store gets 400 ERR_STATE_STORE_NOT_FOUND, and a key holding "||" 400 ERR_MALFORMED_REQUEST;
- keys are stored as `<app id>||<key>` (keyPrefix: appid);
- `GET /v1.0/state/<store>/<key>`: 200 with the raw JSON value, an `ETag` (a random UUID) and a
  `metadata.ttlExpireTime` header, or 204 with an empty body when the key is missing or expired;
- `POST /v1.0/state/<store>` with a JSON list of items answers 204, as follows:
  - with an etag: an update of a live row with that etag, otherwise 409 ERR_STATE_SAVE (a non-UUID etag is a
    mismatch too on PostgreSQL v2, so 409, not the 400 other stores give);
  - without an etag and with `concurrency: first-write`: an insert that fails with 500 ERR_STATE_SAVE "no item
    was updated" when a live row exists;
  - without either: an upsert;
  - `metadata.ttlInSeconds` (a string) sets the expiry; a bad one is 500 ERR_STATE_SAVE, and a non-string
    metadata value is 400 ERR_MALFORMED_REQUEST (the body does not decode);
- `DELETE /v1.0/state/<store>/<key>` answers 204; with `If-Match` it is 409 ERR_STATE_DELETE unless a row with
  that etag exists (expired rows not yet swept included, as the SQL does not look at expiry).

Errors are `{"errorCode", "message"}`. The clock is the fake's own (`advance`), and expired rows stay until
`sweep()` (the store's cleanupInterval), as in PostgreSQL. `down` makes every request fail to connect, and
`failing` makes the store answer 500 (ERR_STATE_GET / _SAVE / _DELETE). Every call yields to the event loop
once, so concurrent callers interleave as they would against a real sidecar.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

import httpx

SEPARATOR = "||"
MISMATCH = "possible etag mismatch. error from state store"
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)  # what the fake's clock reads at 0 s


@dataclass
class Row:
    value: bytes
    etag: str
    expires_at: float | None  # on the fake's clock, in seconds


@dataclass
class FakeStateStore:
    """One sidecar's state API (app `app_id`) over one store named `store`, checking `token` if set."""

    app_id: str = "todo-agent-reminder"
    store: str = "statestore"
    token: str | None = None
    now: float = 0.0
    down: bool = False
    failing: bool = False
    rows: dict[str, Row] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sweep(self) -> None:
        """Delete the expired rows (the store's garbage collector)."""
        self.rows = {k: r for k, r in self.rows.items() if not self._expired(r)}

    def live(self) -> dict[str, Any]:
        """The live (unexpired) rows' values by full key."""
        return {k: json.loads(r.value) for k, r in self.rows.items() if not self._expired(r)}

    def ttl_left(self, key: str) -> float | None:
        """Seconds until the row under the full key `key` expires (None: never)."""
        row = self.rows[key]
        return None if row.expires_at is None else row.expires_at - self.now

    def full_key(self, key: str) -> str:
        return f"{self.app_id}{SEPARATOR}{key}"

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        response = self._answer(request)
        self.answers.append(response)
        return response

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if self.token and request.headers.get("dapr-api-token") != self.token:
            return httpx.Response(401, text="invalid api token\n", headers={"Content-Type": "text/plain"})
        parts = [unquote_plus(p) for p in request.url.raw_path.split(b"?")[0].decode().split("/")]
        if len(parts) not in (4, 5) or parts[1:3] != ["v1.0", "state"]:
            return _error(404, "ERR_DIRECT_INVOKE", "not found")  # no other API is faked here
        if parts[3] != self.store:
            return _error(400, "ERR_STATE_STORE_NOT_FOUND", f"state store {parts[3]} is not found")
        if len(parts) == 5 and request.method == "GET":
            return self._get(parts[4])
        if len(parts) == 5 and request.method == "DELETE":
            return self._delete(parts[4], request.headers.get("If-Match", ""))
        if len(parts) == 4 and request.method in ("POST", "PUT"):
            return self._save(request.content)
        return _error(405, "ERR_MALFORMED_REQUEST", "method not allowed")

    def _get(self, key: str) -> httpx.Response:
        if SEPARATOR in key:
            return _illegal(key)
        if self.failing:
            return _error(500, "ERR_STATE_GET", f"fail to get {key} from state store {self.store}: db down")
        row = self.rows.get(self.full_key(key))
        if row is None or self._expired(row):
            return httpx.Response(204)
        headers = {"ETag": row.etag, "Content-Type": "application/json"}
        if row.expires_at is not None:
            expires = EPOCH + timedelta(seconds=row.expires_at)
            headers["metadata.ttlExpireTime"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        return httpx.Response(200, content=row.value, headers=headers)

    def _save(self, body: bytes) -> httpx.Response:
        try:
            items = json.loads(body)
        except ValueError as exc:
            return _error(400, "ERR_MALFORMED_REQUEST", str(exc))
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return _error(400, "ERR_MALFORMED_REQUEST", "json: cannot unmarshal into []state.SetRequest")
        for item in items:
            metadata = item.get("metadata") or {}
            if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
                return _error(400, "ERR_MALFORMED_REQUEST", "json: cannot unmarshal number into map[string]string")
            if not item.get("key"):
                return _error(400, "ERR_MALFORMED_REQUEST", '"key" is a required field')
            if SEPARATOR in item["key"]:
                return _illegal(item["key"])
        for item in items:
            problem = self._set(item)
            if problem is not None:
                status, message = problem
                return _error(status, "ERR_STATE_SAVE", f"failed saving state in state store {self.store}: {message}")
        return httpx.Response(204)

    def _set(self, item: dict[str, Any]) -> tuple[int, str] | None:
        """Apply one save item as PostgreSQL v2's Set does; (status, message) when it fails."""
        if self.failing:
            return 500, "db down"
        options = item.get("options") or {}
        concurrency = options.get("concurrency", "")
        if concurrency not in ("", "first-write", "last-write"):
            return 500, f"invalid concurrency {concurrency!r}"
        ttl_text = (item.get("metadata") or {}).get("ttlInSeconds", "")
        try:
            ttl = int(ttl_text) if ttl_text else None
        except ValueError:
            return 500, f"error parsing TTL: incorrect value for metadata 'ttlInSeconds': {ttl_text}"
        if ttl is not None and not -1 <= ttl <= 2**31 - 1:
            return 500, "error parsing TTL: incorrect value for metadata 'ttlInSeconds': must be -1 or greater"
        expires_at = self.now + ttl if ttl is not None and ttl > 0 else None
        key = self.full_key(item["key"])
        value = json.dumps(item.get("value"), separators=(",", ":")).encode()
        row = self.rows.get(key)
        if item.get("etag"):
            if not _is_uuid(item["etag"]):
                return 409, f"{MISMATCH}: invalid UUID length: {len(item['etag'])}"
            if row is None or self._expired(row) or row.etag != item["etag"]:
                return 409, MISMATCH
        elif concurrency == "first-write" and row is not None and not self._expired(row):
            return 500, "no item was updated"
        self.rows[key] = Row(value=value, etag=str(uuid.uuid4()), expires_at=expires_at)
        return None

    def _delete(self, key: str, etag: str) -> httpx.Response:
        if SEPARATOR in key:
            return _illegal(key)
        if self.failing:
            return _error(500, "ERR_STATE_DELETE", f"failed deleting state with key {key}: db down")
        full = self.full_key(key)
        if etag:
            row = self.rows.get(full)
            if not _is_uuid(etag) or row is None or row.etag != etag:
                return _error(409, "ERR_STATE_DELETE", f"failed deleting state with key {key}: {MISMATCH}")
        self.rows.pop(full, None)
        return httpx.Response(204)

    def _expired(self, row: Row) -> bool:
        return row.expires_at is not None and row.expires_at < self.now


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"errorCode": code, "message": message})


def _illegal(key: str) -> httpx.Response:
    message = f"input key/keyPrefix '{key}' can't contain '{SEPARATOR}'"
    return _error(400, "ERR_MALFORMED_REQUEST", message)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
