"""The Dapr transport, tested by its contract: the Dapr runtime (daprd) cannot be installed on these machines.

So the sidecar is played by the tests, from the Dapr 1.19 sources and docs (see notes/library-facts.md §4):
- what it asks the app (`GET /dapr/subscribe`) and what it reads from the answer;
- the bodies it POSTs to a subscription route, built here exactly as daprd builds them (our envelope passed
  through `FromCloudEvent`; its own envelope from `NewCloudEventsEnvelope` with JSON, text or binary data; the
  `FromRawPayload` envelope of a rawPayload subscription; a raw message body), always with Content-Type
  application/cloudevents+json, and how it reads the app's answer;
- the publish API the publisher calls, played by an httpx.MockTransport that checks the request.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from domain.ports import OutboundMessage
from runtime.bootstrap import build_publisher
from runtime.settings import Settings
from services.transport import Outcome
from services.transport.dapr import DaprPublisher, DaprPublishError, event_from_delivery, subscription_app
from tests.transport.conftest import reminder_event

TRACEPARENT = "00-113ad9c4e42b27583ae98ba698d54255-e3743e35ff56f219-01"


# --- the sidecar's side, as daprd 1.19 does it --------------------------------------------------------------------


def dapr_fields(topic: str) -> dict[str, str]:
    """What the sidecar adds to every envelope it delivers (pubsub.FromCloudEvent / NewCloudEventsEnvelope)."""
    return {"topic": topic, "pubsubname": "pubsub", "traceid": TRACEPARENT, "traceparent": TRACEPARENT,
            "tracestate": ""}


def from_cloud_event(event: dict[str, Any], topic: str) -> bytes:
    """Published as application/cloudevents+json: our envelope, with the sidecar's fields added."""
    return json.dumps({**event, **dapr_fields(topic)}).encode()


def dapr_envelope(topic: str, content_type: str, payload: bytes) -> bytes:
    """Published with another content type: the sidecar's own envelope around the payload."""
    envelope: dict[str, Any] = {
        "id": str(uuid.uuid4()), "specversion": "1.0", "datacontenttype": content_type, "source": "todo-agent",
        "type": "com.dapr.event.sent", "time": "2026-03-02T09:00:00Z", **dapr_fields(topic),
    }
    if content_type.startswith("application/json"):
        envelope["data"] = json.loads(payload)
    elif content_type == "application/octet-stream":
        envelope["data_base64"] = base64.b64encode(payload).decode()
    else:
        envelope["data"] = payload.decode()
    return json.dumps(envelope).encode()


def from_raw_payload(topic: str, payload: bytes) -> bytes:
    """A subscription with metadata rawPayload=true: the message bytes, base64, in an envelope made up on arrival."""
    return json.dumps({
        "id": str(uuid.uuid4()), "specversion": "1.0", "datacontenttype": "application/octet-stream",
        "source": "Dapr", "type": "com.dapr.event.sent", "topic": topic, "pubsubname": "pubsub",
        "traceid": TRACEPARENT, "traceparent": TRACEPARENT, "tracestate": "",
        "data_base64": base64.b64encode(payload).decode(),
    }).encode()


def sidecar_reading(response: httpx.Response) -> str:
    """How daprd reads a subscriber's answer: 2xx + status (empty: SUCCESS), 404: DROP, other codes: RETRY."""
    if response.status_code == 404:
        return "DROP"
    if not 200 <= response.status_code < 300:
        return "RETRY"
    if not response.content:
        return "SUCCESS"
    status = response.json().get("status", "SUCCESS")
    return status if status in ("SUCCESS", "RETRY", "DROP") else "RETRY"


@pytest.fixture(autouse=True)
def _no_sidecar_address_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DAPR_HTTP_ENDPOINT", "DAPR_RUNTIME_HOST", "DAPR_HTTP_PORT", "DAPR_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)


# --- the subscription app -----------------------------------------------------------------------------------------


class Handler:
    def __init__(self, answer: Outcome | Exception = Outcome.SUCCESS) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, topic: str, event: dict[str, Any]) -> Outcome:
        self.calls.append((topic, event))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def handlers() -> dict[str, Handler]:
    return {"tasks": Handler(), "reminders": Handler()}


@pytest.fixture
async def sidecar(handlers: dict[str, Handler]) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client into the subscription app, standing where the sidecar would."""
    app = subscription_app([("tasks", "/events/tasks", handlers["tasks"]),
                            ("reminders", "/events/reminders", handlers["reminders"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        yield client


async def deliver(client: httpx.AsyncClient, route: str, body: bytes) -> httpx.Response:
    return await client.post(
        route, content=body, headers={"Content-Type": "application/cloudevents+json", "pubsubName": "pubsub"}
    )


async def test_dapr_subscribe_declares_each_topic_route_and_dead_letter_topic(sidecar: httpx.AsyncClient) -> None:
    response = await sidecar.get("/dapr/subscribe")

    assert response.status_code == 200
    assert response.json() == [
        {"pubsubname": "pubsub", "topic": "tasks", "route": "/events/tasks", "metadata": {},
         "deadLetterTopic": "tasks-dlq"},
        {"pubsubname": "pubsub", "topic": "reminders", "route": "/events/reminders", "metadata": {},
         "deadLetterTopic": "reminders-dlq"},
    ]


async def test_the_subscription_app_can_extend_an_app_and_use_another_component() -> None:
    app = FastAPI()
    handler = Handler()
    assert subscription_app([("tasks", "/in/tasks", handler)], pubsub="kafka-pubsub", app=app) is app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        [declared] = (await client.get("/dapr/subscribe")).json()
        await deliver(client, "/in/tasks", from_cloud_event(reminder_event(1, 1), "tasks"))
    assert (declared["pubsubname"], declared["route"]) == ("kafka-pubsub", "/in/tasks")
    assert len(handler.calls) == 1
    with pytest.raises(ValueError, match="one subscription per component and topic"):
        subscription_app([("tasks", "/a", Handler()), ("tasks", "/b", Handler())])


async def test_a_route_can_subscribe_through_a_component_of_its_own() -> None:
    """The web host's live feed reads `tasks` through a second component (a consumer group per pod) beside the
    shared one; the same topic twice on one component is still refused."""
    routes = [("tasks", "/events/live", Handler()), ("reminders", "/events/notifications", Handler())]
    app = subscription_app(routes + [("tasks", "/events/shared", Handler())], pubsub_of_route={"/events/live": "live"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        declared = (await client.get("/dapr/subscribe")).json()
    assert [(d["pubsubname"], d["topic"], d["route"]) for d in declared] == [
        ("live", "tasks", "/events/live"), ("pubsub", "reminders", "/events/notifications"),
        ("pubsub", "tasks", "/events/shared"),
    ]
    with pytest.raises(ValueError, match=r"\('live', 'tasks'\)"):
        subscription_app(routes + [("tasks", "/events/b", Handler())], pubsub_of_route={
            "/events/live": "live", "/events/b": "live"})


WRAPPINGS: dict[str, Callable[[dict[str, Any], str], bytes]] = {
    "our envelope (cloudevents+json)": from_cloud_event,
    "published raw, read as a CloudEvent": lambda e, t: json.dumps(e).encode(),
    "data (application/json)": lambda e, t: dapr_envelope(t, "application/json; charset=utf-8", json.dumps(e).encode()),
    "data as text (text/plain)": lambda e, t: dapr_envelope(t, "text/plain", json.dumps(e).encode()),
    "data_base64 (application/octet-stream)": lambda e, t: dapr_envelope(
        t, "application/octet-stream", json.dumps(e).encode()
    ),
    "rawPayload subscription (FromRawPayload)": lambda e, t: from_raw_payload(t, json.dumps(e).encode()),
}


@pytest.mark.parametrize("wrapping", list(WRAPPINGS))
async def test_every_wrapping_of_our_event_reaches_the_handler_as_the_event_we_published(
    wrapping: str, sidecar: httpx.AsyncClient, handlers: dict[str, Handler]
) -> None:
    event = reminder_event(user_id=3, task_id=9)

    response = await deliver(sidecar, "/events/reminders", WRAPPINGS[wrapping](event, "reminders"))

    assert response.status_code == 200 and response.json() == {"status": "SUCCESS"}
    assert handlers["reminders"].calls == [("reminders", event)]
    assert handlers["tasks"].calls == []


@pytest.mark.parametrize("answer", [Outcome.SUCCESS, Outcome.RETRY, Outcome.DROP])
async def test_the_handlers_outcome_is_the_answer_the_sidecar_reads(
    answer: Outcome, sidecar: httpx.AsyncClient, handlers: dict[str, Handler]
) -> None:
    handlers["tasks"].answer = answer

    response = await deliver(sidecar, "/events/tasks", from_cloud_event(reminder_event(1, 1), "tasks"))

    assert response.status_code == 200 and response.json() == {"status": answer.value}
    assert sidecar_reading(response) == answer.value


async def test_a_handler_that_raises_asks_for_a_retry(sidecar: httpx.AsyncClient, handlers: dict[str, Handler]) -> None:
    handlers["tasks"].answer = ConnectionError("database down")

    response = await deliver(sidecar, "/events/tasks", from_cloud_event(reminder_event(1, 1), "tasks"))

    assert response.status_code == 200 and sidecar_reading(response) == "RETRY"


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}


MALFORMED: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "not JSON": lambda e: b"\x00\x01 definitely not json",
    "a JSON array": lambda e: b"[1, 2, 3]",
    "empty": lambda e: b"",
    "someone else's event": lambda e: dapr_envelope("tasks", "application/json", b'{"orderId": 1}'),
    "no id": lambda e: from_cloud_event(_without(e, "id"), "tasks"),
    "no data": lambda e: from_cloud_event(_without(e, "data"), "tasks"),
    "bad base64": lambda e: json.dumps({**json.loads(from_raw_payload("tasks", b"{}")), "data_base64": "@@@"}).encode(),
    "base64 of garbage": lambda e: from_raw_payload("tasks", b"\xff\xfe not json"),
    "text that is not JSON": lambda e: dapr_envelope("tasks", "text/plain", b"hello"),
}


@pytest.mark.parametrize("body", list(MALFORMED))
async def test_a_body_without_a_cloud_event_of_ours_is_dropped_without_calling_the_handler(
    body: str, sidecar: httpx.AsyncClient, handlers: dict[str, Handler]
) -> None:
    response = await deliver(sidecar, "/events/tasks", MALFORMED[body](reminder_event(1, 1)))

    assert response.status_code == 200 and response.json() == {"status": "DROP"}
    assert handlers["tasks"].calls == []


def test_event_from_delivery_strips_only_the_sidecars_fields() -> None:
    event = {**reminder_event(2, 5), "dataschema": "todo-agent:com.todoagent.reminder.due/v1"}
    assert event_from_delivery(from_cloud_event(event, "reminders")) == event


# --- the publisher ------------------------------------------------------------------------------------------------


class FakeSidecar:
    """The publish endpoint of a sidecar: records each request and answers with `status` (and a Dapr error body)."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status == 204:
            return httpx.Response(204)
        return httpx.Response(self.status, json={"errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE", "message": "broker down"})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def outbound(event: dict[str, Any], topic: str = "reminders") -> OutboundMessage:
    return OutboundMessage(topic=topic, key=str(event["data"]["user_id"]), event_id=event["id"], event=event)


async def test_the_publisher_posts_our_cloud_event_to_the_documented_publish_api() -> None:
    fake = FakeSidecar()
    event = reminder_event(user_id=42, task_id=7)
    async with fake.client() as client:
        publisher = DaprPublisher(http_port=3601, api_token="s3cret-token", http_client=client)
        await publisher.publish(outbound(event))
        await publisher.close()
        assert not client.is_closed  # an injected client belongs to its owner

    [request] = fake.requests
    assert request.method == "POST"
    assert (request.url.scheme, request.url.host, request.url.port) == ("http", "127.0.0.1", 3601)
    assert request.url.path == "/v1.0/publish/pubsub/reminders"
    assert dict(request.url.params) == {"metadata.partitionKey": "42"}
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert request.headers["dapr-api-token"] == "s3cret-token"
    assert json.loads(request.content) == event  # our envelope as is: Dapr keeps id, type, source, subject, time


async def test_without_a_token_no_token_header_is_sent() -> None:
    fake = FakeSidecar()
    async with fake.client() as client:
        await DaprPublisher("kafka-pubsub", http_port=3999, http_client=client).publish(outbound(reminder_event(1, 1)))

    [request] = fake.requests
    assert "dapr-api-token" not in request.headers
    assert request.url.port == 3999 and request.url.path == "/v1.0/publish/kafka-pubsub/reminders"


@pytest.mark.parametrize("status", [400, 403, 404, 500])
async def test_a_refused_publish_raises_so_the_relay_retries(status: int) -> None:
    fake = FakeSidecar(status)
    async with fake.client() as client:
        with pytest.raises(DaprPublishError, match=f"HTTP {status}: ERR_PUBSUB_PUBLISH_MESSAGE: broker down"):
            await DaprPublisher(http_client=client).publish(outbound(reminder_event(1, 1)))


async def test_an_unreachable_sidecar_raises_and_constructing_the_publisher_touches_nothing() -> None:
    publisher = DaprPublisher(endpoint="http://127.0.0.1:9")  # built without a sidecar: nothing happens yet
    with pytest.raises(httpx.TransportError):
        await publisher.publish(outbound(reminder_event(1, 1)))
    await publisher.close()


async def test_a_published_event_comes_out_of_the_sidecar_into_the_handler_unchanged(
    sidecar: httpx.AsyncClient, handlers: dict[str, Handler]
) -> None:
    fake = FakeSidecar()
    event = reminder_event(user_id=5, task_id=8)
    async with fake.client() as client:
        await DaprPublisher(http_client=client).publish(outbound(event))
    [request] = fake.requests

    # With application/cloudevents+json the sidecar keeps the envelope and adds its own fields (FromCloudEvent).
    await deliver(sidecar, "/events/reminders", from_cloud_event(json.loads(request.content), "reminders"))

    assert handlers["reminders"].calls == [("reminders", event)]


def test_the_composition_root_builds_the_configured_publisher_without_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.transport.kafka import KafkaPublisher

    monkeypatch.setenv("DAPR_HTTP_PORT", "3777")
    monkeypatch.setenv("DAPR_API_TOKEN", "tok")
    dapr = build_publisher(Settings(bus="dapr", dapr_pubsub="kafka-pubsub"))
    assert isinstance(dapr, DaprPublisher)
    assert (dapr.pubsub, dapr.base_url, dapr.api_token) == ("kafka-pubsub", "http://127.0.0.1:3777", "tok")

    def sidecar(**settings: Any) -> str:
        publisher = build_publisher(Settings(bus="dapr", **settings))
        assert isinstance(publisher, DaprPublisher)
        return publisher.base_url

    monkeypatch.setenv("DAPR_RUNTIME_HOST", "")
    assert sidecar() == "http://127.0.0.1:3777"  # set but empty counts as unset
    monkeypatch.setenv("DAPR_RUNTIME_HOST", "sidecar.local")
    assert sidecar() == "http://sidecar.local:3777"
    assert sidecar(dapr_http_port=3999) == "http://sidecar.local:3999"  # an argument beats the environment
    monkeypatch.setenv("DAPR_HTTP_ENDPOINT", "https://dapr.example:443/")
    assert sidecar() == "https://dapr.example:443"

    kafka = build_publisher(Settings(bus="kafka", kafka_bootstrap="127.0.0.1:1"))
    assert isinstance(kafka, KafkaPublisher) and kafka.bootstrap == "127.0.0.1:1"
