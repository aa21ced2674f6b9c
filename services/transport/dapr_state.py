"""The inbox in a Dapr state store (`state.postgresql` v2): the reminder and recurrence services on Dapr remember
the events they processed through the sidecar's state API, so a redelivered event has no second effect.

Each consumer group and event has one key, `inbox:<group>:<event id>`. The event id is percent-encoded, because
Dapr refuses keys holding "||". The sidecar prefixes the key with the app id itself (`<app-id>||inbox:...`). The
value is `{"state": "pending", "claim": <uuid>, ...}` while a consumer has the event in hand, and
`{"state": "done", ...}` once its effect is committed. One delivery goes like this:

1. GET the key. "done" means the event was processed before: no effect, SUCCESS. "pending" means another replica
   has it in hand (or crashed with it): RETRY, and the claim expires by its TTL.
2. Missing (204): claim it with a first-write save of a pending record whose TTL is CLAIM_TTL_SECONDS. If another
   replica claimed it first, the save fails (PostgreSQL v2 answers 500 ERR_STATE_SAVE "no item was updated";
   a store that checks etags answers 409): RETRY.
3. GET again to learn the claim's ETag (a save answers 204 without one), and check that the claim is ours.
4. Run the effect in its own SQL transaction. If it fails, delete the claim (If-Match: the ETag) so that a
   redelivery can run it again; the error then decides the answer (RETRY, or DROP for poison).
5. Save `{"state": "done"}` with the claim's ETag and a TTL of the retention period, so the store prunes it
   itself, as retention prunes the SQL inbox.

Any sidecar failure before the effect (no answer, a 5xx, an unexpected status) is RETRY: nothing was applied.

The one window two stores cannot close: a crash, or a sidecar failure, after the SQL commit and before step 5
leaves a pending claim that expires, and a redelivery then applies the event again (so does a second replica
when an effect outlives its claim). Both services make that harmless:
- reminder: the handler records the newest task version it applied (services/reminder.py `_advance`) and
  ignores a snapshot that is not newer, so the same event again changes nothing;
- recurrence: the repeat sends a second `recurrence.next-requested` for the same predecessor (a new event id,
  which the task service's SQL inbox takes), but the task service creates at most one successor per predecessor
  (domain.usecases.recurring.create_successor returns the existing one; `predecessor_id` is unique).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import quote

import httpx

from domain.uow import UnitOfWork
from services.inbox import InboxBusy, Work
from services.transport.dapr import API_TOKEN_HEADER, SidecarClient

logger = logging.getLogger(__name__)

CLAIM_TTL_SECONDS = 300  # how long a claim outlives a consumer that crashed with the event in hand
MAX_TTL_SECONDS = 2**31 - 1  # the largest ttlInSeconds Dapr accepts
PENDING, DONE = "pending", "done"


def inbox_key(group: str, event_id: str) -> str:
    """The state key of one event of one consumer group (no "||", which Dapr refuses in a key)."""
    return f"inbox:{quote(group, safe='')}:{quote(event_id, safe='')}"


class DaprStateInbox(SidecarClient):
    """An Inbox (services.inbox) kept in the Dapr state store `store` through the sidecar at `base_url`.

    Every request carries `dapr-api-token` when `api_token` is set (DAPR_API_TOKEN). `done_ttl` is how long a
    processed event is remembered, in seconds (the retention period). The HTTP client is created on first use,
    over `transport` if one is given (tests pass a fake sidecar), and closed by close().
    """

    def __init__(
        self,
        store: str,
        *,
        base_url: str,
        done_ttl: int,
        api_token: str | None = None,
        claim_ttl: int = CLAIM_TTL_SECONDS,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not store:
            raise ValueError("the Dapr state store needs a name")
        self.store = store
        self.url = f"{base_url.rstrip('/')}/v1.0/state/{quote(store, safe='')}"
        self.done_ttl = max(1, min(done_ttl, MAX_TTL_SECONDS))
        self.claim_ttl = max(1, min(claim_ttl, MAX_TTL_SECONDS))
        super().__init__(timeout=timeout, transport=transport)
        self.api_token = api_token or None

    async def once(self, uow: UnitOfWork, group: str, event_id: str, work: Work) -> bool:
        """Run `work` unless `group` has processed `event_id` (False then); InboxBusy when it cannot tell now."""
        key = inbox_key(group, event_id)
        record, _ = await self._get(key)
        if record is not None:
            if record.get("state") == DONE:
                return False
            raise InboxBusy(f"{key} is in hand elsewhere ({record.get('state')!r} since {record.get('at')})")
        claim = uuid.uuid4().hex
        await self._save(key, {"state": PENDING, "claim": claim, "at": uow.clock.now().isoformat()},
                         ttl=self.claim_ttl)
        record, etag = await self._get(key)
        if record is None or record.get("claim") != claim or etag is None:
            raise InboxBusy(f"{key}: the claim was lost before the effect ran")
        try:
            async with uow.write() as tx:
                await work(tx)
        except Exception:
            await self._release(key, etag)
            raise
        await self._mark_done(key, etag, uow)
        return True

    async def _get(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        """The record under `key` and its ETag; (None, None) when there is none."""
        response = await self._send("GET", f"{self.url}/{quote(key, safe='')}")
        if response.status_code == httpx.codes.NO_CONTENT:
            return None, None
        if response.status_code != httpx.codes.OK:
            raise InboxBusy(f"reading {key} from the state store failed: {_detail(response)}")
        try:
            record = response.json()
        except ValueError:
            record = None
        if not isinstance(record, dict):
            raise InboxBusy(f"{key} holds something other than an inbox record: {response.text[:200]!r}")
        return record, response.headers.get("etag")

    async def _save(self, key: str, value: dict[str, Any], *, ttl: int, etag: str | None = None) -> None:
        """A first-write save: without `etag` it succeeds only if the key is missing (or expired), with one only
        if the record still has that etag; InboxBusy otherwise."""
        item: dict[str, Any] = {"key": key, "value": value, "metadata": {"ttlInSeconds": str(ttl)},
                                "options": {"concurrency": "first-write", "consistency": "strong"}}
        if etag is not None:
            item["etag"] = etag
        response = await self._send("POST", self.url, json=[item])
        if response.status_code == httpx.codes.CONFLICT:
            raise InboxBusy(f"{key} changed meanwhile (another consumer claimed it)")
        if not response.is_success:
            raise InboxBusy(f"saving {key} failed (a concurrent claim, or the store): {_detail(response)}")

    async def _release(self, key: str, etag: str) -> None:
        """Delete our claim after a failed effect, so a redelivery runs it (if this fails, the claim expires)."""
        try:
            response = await self._send("DELETE", f"{self.url}/{quote(key, safe='')}", headers={"If-Match": etag})
        except InboxBusy as exc:
            logger.warning("could not release %s: %s; it expires in %d s", key, exc, self.claim_ttl)
            return
        if not response.is_success:
            logger.warning("could not release %s: %s; it expires in %d s", key, _detail(response), self.claim_ttl)

    async def _mark_done(self, key: str, etag: str, uow: UnitOfWork) -> None:
        """Record the event as processed; the effect is committed already, so a failure is only logged."""
        try:
            await self._save(key, {"state": DONE, "at": uow.clock.now().isoformat()}, ttl=self.done_ttl, etag=etag)
        except InboxBusy as exc:
            logger.warning("%s was applied but not marked done (%s): a redelivery after its claim expires applies "
                           "it again, which its handler ignores", key, exc)

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.api_token:
            headers[API_TOKEN_HEADER] = self.api_token
        try:
            return await self._http().request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise InboxBusy(f"the Dapr sidecar did not answer {method} {url}: {type(exc).__name__}: {exc}") from exc


def _detail(response: httpx.Response) -> str:
    """HTTP status and Dapr's `{"errorCode", "message"}`, or the raw text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("errorCode" in body or "message" in body):
        return f"HTTP {response.status_code} {body.get('errorCode')}: {body.get('message')}"
    return f"HTTP {response.status_code}: {response.text[:300]}"
