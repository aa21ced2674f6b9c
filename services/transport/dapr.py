"""The Dapr transport: publish through the sidecar's HTTP pub/sub API, receive through a FastAPI subscription app.

Publishing posts the CloudEvent we already built with `Content-Type: application/cloudevents+json`, so Dapr
keeps our envelope (id, type, source, subject, time, data) and only adds its routing and tracing fields; the
partition key goes in as `metadata.partitionKey` (the user id). No `DaprClient` is involved: its constructor
blocks until a sidecar answers, which is wrong at start-up and impossible in tests.

Receiving: `subscription_app` declares each subscription on `GET /dapr/subscribe` (the shape the SDK's DaprApp
gives, with the dead-letter topic `<topic>-dlq`) and turns each delivery, however the sidecar wrapped it, back into
our CloudEvent before calling the handler; the answer is Dapr's `{"status": "SUCCESS"|"RETRY"|"DROP"}`. The
sidecar moves a DROPped message (and one whose retries ran out) to the dead-letter topic itself. These routes
are the sidecar's door: given the app API token (APP_API_TOKEN, which daprd sends as `dapr-api-token`), each
refuses any other caller with 401.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeGuard
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from domain.events import CloudEvent
from domain.ports import OutboundMessage, Publisher
from services.transport import EventHandler, Outcome, dead_letter_topic

logger = logging.getLogger(__name__)

CLOUDEVENTS_JSON = "application/cloudevents+json"
API_TOKEN_HEADER = "dapr-api-token"
DAPR_EVENT_TYPE = "com.dapr.event.sent"  # the type Dapr gives the envelopes it makes around plain payloads
DAPR_ADDED_FIELDS = ("topic", "pubsubname", "traceid", "traceparent", "tracestate", "expiration")
_CLOUD_EVENT_REQUIRED = ("specversion", "id", "source", "type")

Subscription = tuple[str, str, EventHandler]
"""(topic, route, handler): deliveries of `topic` arrive as POSTs on `route`."""


class DaprPublishError(RuntimeError):
    """The sidecar refused or failed a publish; the relay retries it."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"Dapr publish failed with HTTP {status}: {detail}")
        self.status = status


def sidecar_url(*, endpoint: str | None = None, host: str = "127.0.0.1", http_port: int = 3500) -> str:
    """The sidecar's HTTP base URL as the Dapr SDKs find it: the endpoint (DAPR_HTTP_ENDPOINT) if given, else the
    host and port (DAPR_RUNTIME_HOST, DAPR_HTTP_PORT); the composition root reads those variables."""
    if endpoint:
        return endpoint.rstrip("/")
    return f"http://{host or '127.0.0.1'}:{http_port}"  # an empty DAPR_RUNTIME_HOST is unset, as the SDKs read it


class SidecarClient:
    """The HTTP client of an adapter talking to the Dapr sidecar: created on first use unless one is injected
    (its owner then closes it); `transport` stands in for the network (tests: a fake sidecar)."""

    def __init__(self, *, timeout: float = 10.0, http_client: httpx.AsyncClient | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.timeout = timeout
        self._client = http_client
        self._owns_client = http_client is None
        self._transport = transport

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport)
        return self._client

    async def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


class DaprPublisher(SidecarClient, Publisher):
    """Publishes outbox messages through the Dapr sidecar: `POST /v1.0/publish/{pubsub}/{topic}`.

    The request carries our CloudEvent as `application/cloudevents+json`, `metadata.partitionKey=<key>` and,
    when a token is configured (DAPR_API_TOKEN), the `dapr-api-token` header. A 2xx answer (the sidecar sends
    204) means the broker has the message; anything else raises DaprPublishError, and transport errors
    propagate, so the relay keeps the event and retries. The HTTP client is created on first use unless one is
    injected (then its owner closes it).
    """

    def __init__(
        self,
        pubsub: str = "pubsub",
        *,
        http_port: int = 3500,
        host: str = "127.0.0.1",
        endpoint: str | None = None,
        api_token: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(timeout=timeout, http_client=http_client)
        self.pubsub = pubsub
        self.base_url = sidecar_url(endpoint=endpoint, host=host, http_port=http_port)
        self.api_token = api_token or None

    def url(self, topic: str) -> str:
        return f"{self.base_url}/v1.0/publish/{quote(self.pubsub, safe='')}/{quote(topic, safe='')}"

    async def publish(self, message: OutboundMessage) -> None:
        """Hand one CloudEvent to the sidecar; returns once it has accepted it."""
        headers = {"Content-Type": CLOUDEVENTS_JSON}
        if self.api_token:
            headers[API_TOKEN_HEADER] = self.api_token
        body = json.dumps(message.event, separators=(",", ":"), ensure_ascii=False).encode()
        response = await self._http().post(
            self.url(message.topic),
            content=body,
            params={"metadata.partitionKey": message.key},
            headers=headers,
        )
        if not response.is_success:
            raise DaprPublishError(response.status_code, _error_detail(response))



def _error_detail(response: httpx.Response) -> str:
    """Dapr's errors are `{"errorCode": ..., "message": ...}`; fall back to the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict) and ("errorCode" in body or "message" in body):
        return f"{body.get('errorCode')}: {body.get('message')}"
    return response.text[:300]


def event_from_delivery(body: bytes) -> dict[str, Any] | None:
    """Our CloudEvent from a body as the sidecar POSTs it, or None if it holds none (a poison message).

    The sidecar sends, with Content-Type application/cloudevents+json:
    - our own envelope plus its fields topic, pubsubname, traceid, traceparent, tracestate (published as
      cloudevents+json, or published raw and parsed by the sidecar as a CloudEvent);
    - its own envelope (type com.dapr.event.sent) with our event as `data` (published as application/json), as
      a JSON string in `data` (text/plain), or base64-encoded in `data_base64` (binary content types, and every
      message of a subscription with metadata rawPayload=true).
    """
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(envelope, dict):
        return None
    event = _unwrap(envelope)
    # Dapr's own envelope is never ours: still wrapped here means its payload was not a CloudEvent.
    if not _is_cloud_event(event) or event["type"] == DAPR_EVENT_TYPE:
        return None
    try:
        CloudEvent.model_validate(event)
    except ValidationError:
        return None
    return event


def _unwrap(envelope: dict[str, Any]) -> dict[str, Any] | None:
    if "data_base64" in envelope:
        encoded = envelope["data_base64"]
        if not isinstance(encoded, str):
            return None
        try:
            inner: Any = json.loads(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        return _without_dapr_fields(inner) if isinstance(inner, dict) else None
    data = envelope.get("data")
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError:
            return None
    if _is_cloud_event(data):
        return _without_dapr_fields(data)  # Dapr's envelope around ours
    return _without_dapr_fields(envelope)


def _is_cloud_event(value: object) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and all(isinstance(value.get(k), str) for k in _CLOUD_EVENT_REQUIRED)


def _without_dapr_fields(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k not in DAPR_ADDED_FIELDS}


class UnprotectedDelivery(ValueError):
    """Production with the Dapr bus but no app API token: anyone reaching the app could inject events."""


def delivery_token(token: str | None, *, production: bool) -> str | None:
    """The app API token the delivery routes demand (APP_API_TOKEN); refused in production when missing."""
    if token:
        return token
    if production:
        raise UnprotectedDelivery(
            "TODO_AGENT_BUS=dapr in production needs APP_API_TOKEN (the sidecar's app token, set by the "
            "dapr.io/app-token-secret annotation): without it anyone who reaches this app can inject events"
        )
    logger.warning("APP_API_TOKEN is not set: the Dapr delivery routes accept events from anyone who reaches them")
    return None


def subscription_app(
    subscriptions: Sequence[Subscription], pubsub: str = "pubsub", *, app: FastAPI | None = None,
    app_token: str | None = None, pubsub_of_route: Mapping[str, str] | None = None,
) -> FastAPI:
    """A FastAPI app (or `app`, extended) that the Dapr sidecar delivers `subscriptions` to.

    `GET /dapr/subscribe` lists `{"pubsubname", "topic", "route", "metadata": {}, "deadLetterTopic":
    "<topic>-dlq"}` per subscription; the component is `pubsub`, or for a route in `pubsub_of_route` the one named
    there (the web host's live feed subscribes through a component of its own). Each route answers a delivery with
    the handler's Outcome, RETRY if the handler raised, and DROP if the body holds no CloudEvent of ours. With
    `app_token` every one of these routes answers 401 to a request whose `dapr-api-token` header is not that token
    (the sidecar sends it).
    """
    component = {route: (pubsub_of_route or {}).get(route, pubsub) for _, route, _ in subscriptions}
    pairs = [(component[route], topic) for topic, route, _ in subscriptions]
    if len(set(pairs)) != len(pairs):
        raise ValueError(f"one subscription per component and topic, got {pairs}")
    declared: list[dict[str, Any]] = []
    guard = sidecar_only(app_token)
    router = APIRouter(dependencies=guard, include_in_schema=False)  # the sidecar's door, not the public API
    for topic, route, handler in subscriptions:
        if not route.startswith("/"):
            raise ValueError(f"route {route!r} must start with '/'")
        router.add_api_route(route, _delivery_endpoint(topic, handler), methods=["POST"])
        declared.append({"pubsubname": component[route], "topic": topic, "route": route, "metadata": {},
                         "deadLetterTopic": dead_letter_topic(topic)})

    async def dapr_subscribe() -> list[dict[str, Any]]:
        """The subscriptions the sidecar reads at start-up."""
        return declared

    router.add_api_route("/dapr/subscribe", dapr_subscribe, methods=["GET"])
    app = app if app is not None else FastAPI(title="todo-agent subscriber")
    app.include_router(router)
    return app


def sidecar_only(app_token: str | None) -> list[Any]:
    """The dependencies of a route only the sidecar may call (given its app token): the one token check of every
    route the sidecar calls (deliveries, cron bindings, service invocation); none without a token."""
    return [Depends(_sidecar_only(app_token))] if app_token else []


def _sidecar_only(expected: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing (401) any request without the sidecar's app API token (compared in constant time)."""
    want = expected.encode()

    async def check(request: Request) -> None:
        given = request.headers.get(API_TOKEN_HEADER, "").encode()
        if not hmac.compare_digest(given, want):
            logger.warning("refused a Dapr delivery route request without the app API token from %s",
                           request.client.host if request.client else "?")
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this route takes deliveries from the Dapr sidecar only")

    return check


def _delivery_endpoint(topic: str, handler: EventHandler) -> Any:
    async def deliver(request: Request) -> JSONResponse:
        body = await request.body()
        event = event_from_delivery(body)
        if event is None:
            logger.error(
                "dapr delivery on %s holds no CloudEvent of ours; dropping it (%d bytes: %r)",
                topic, len(body), body[:200],
            )
            return JSONResponse({"status": Outcome.DROP.value})
        try:
            outcome = Outcome(await handler(topic, event))
        except Exception:
            logger.exception(
                "handler of %s failed on event %s; asking Dapr to retry", topic, event.get("id"),
                extra={"event_id": event.get("id"), "topic": topic},
            )
            outcome = Outcome.RETRY
        if outcome is Outcome.DROP:
            logger.warning(
                "event %s of type %s on %s dropped to %s", event.get("id"), event.get("type"), topic,
                dead_letter_topic(topic), extra={"event_id": event.get("id"), "topic": topic},
            )
        return JSONResponse({"status": outcome.value})

    deliver.__name__ = f"deliver_{topic.replace('-', '_')}"
    return deliver
