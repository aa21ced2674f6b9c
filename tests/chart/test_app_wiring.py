"""The chart and the apps agree: each Deployment's container, given the environment the chart renders for it
(its ConfigMap, its Secrets' keys, what the Dapr injector adds), builds the real app (create_app for `serve`,
build_service for `service NAME`, on a migrated SQLite file), and what that app tells its sidecar matches the
Dapr resources the chart renders for its app id:

- every subscription it declares on GET /dapr/subscribe names a pub/sub Component scoped to it, with the
  dead-letter topic `<topic>-dlq`, and the topics are its service's in services/subscriptions.py;
- every cron binding scoped to it POSTs to a route the app serves;
- the state store its inbox uses is scoped to it; the audit app's Configuration admits the web host's invocation
  of the method the web host calls, and the audit app answers that caller (and refuses another app id).

No sidecar runs: the test client calls the app as daprd does (the app token in `dapr-api-token`, the caller's app
id in `dapr-caller-app-id`); nothing is published, and the apps' lifespans (relay, lease) are not started."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runtime.bootstrap import Runtime
from tests.chart.manifests import (
    NAMESPACE,
    Rendered,
    acl_allows,
    containers,
    metadata_items,
    pod_annotations,
    render_set,
)
from tests.infra import sqlite_url

APP_TOKEN, API_TOKEN = "app-token-" + "a" * 40, "api-token-" + "b" * 40
PREFIXES = ("TODO_AGENT_", "DAPR_", "APP_API_TOKEN", "CO_API_", "COHERE_")
INJECTED = {"DAPR_HTTP_PORT": "3500", "DAPR_GRPC_PORT": "50001", "APP_PROTOCOL": "http"}  # by the Dapr injector


def container_env(rendered: Rendered, deployment: dict[str, Any], database_url: str) -> dict[str, str]:
    """The environment the chart gives the container: its ConfigMap, its plain values, and for each Secret key a
    stand-in value (checking a chart-made Secret has that key); optional Secrets are taken as absent."""
    fakes = {"TODO_AGENT_DATABASE_URL": database_url, "TODO_AGENT_SECRET_KEY": "k" * 48,
             "DAPR_API_TOKEN": API_TOKEN, "APP_API_TOKEN": APP_TOKEN}
    (container,) = containers(deployment)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= rendered.one("ConfigMap", source["configMapRef"]["name"])["data"]
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        if ref.get("optional"):
            continue
        if ref["name"] in rendered.names("Secret"):
            assert ref["key"] in rendered.one("Secret", ref["name"])["data"], ref
        env[item["name"]] = fakes[item["name"]]
    return env | INJECTED


@asynccontextmanager
async def app_of(deployment: dict[str, Any], env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                 data_dir: Path) -> AsyncIterator[tuple[Runtime, FastAPI]]:
    """The app the container's args start and its runtime, built from exactly `env` (the chart's /data is a tmp dir
    here)."""
    from runtime.apps import build_service, create_app
    from runtime.bootstrap import build_runtime, close_runtime
    from runtime.lease import PRIORITY_WEB
    from runtime.settings import Settings

    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(PREFIXES)]:
            patch.delenv(name)
        for name, value in (env | {"TODO_AGENT_DATA_DIR": str(data_dir)}).items():
            patch.setenv(name, value)
        settings = Settings()
        args = containers(deployment)[0]["args"]
        if args == ["serve"]:
            rt = build_runtime(settings, role="web", priority=PRIORITY_WEB)
            app = create_app(rt)
        else:
            assert args[:1] == ["service"] and args[2:3] == ["--port"]
            rt, app = build_service(args[1], settings)
        try:
            yield rt, app
        finally:
            await close_runtime(rt)


async def delivered(client: httpx.AsyncClient, route: str) -> httpx.Response:
    """POST to a subscription route as the sidecar delivers: a body that is no CloudEvent of ours is answered 200
    DROP by a route that exists (a missing one answers 404)."""
    return await client.post(route, content=b"{}", headers={
        "dapr-api-token": APP_TOKEN, "Content-Type": "application/cloudevents+json"})


async def ticked(client: httpx.AsyncClient, route: str) -> httpx.Response:
    """POST a cron tick as the sidecar sends it (facts note b6): an empty body, the time in headers."""
    return await client.post(route, content=b"", headers={
        "dapr-api-token": APP_TOKEN, "Content-Type": "application/json", "timeZone": "UTC",
        "readTimeUTC": "2026-12-03T09:00:00.000000Z"})


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000")


@pytest.fixture
def database_url(migrated_file: Path, tmp_path: Path) -> str:
    return sqlite_url(shutil.copy(migrated_file, tmp_path / "todo.db"))


@pytest.mark.parametrize("value_set", ["default", "doks", "everything-off"])
async def test_each_app_declares_what_the_chart_scopes_to_it(
    value_set: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.subscriptions import STATE_INBOX_SERVICES, WEB, of_service, subscriptions
    from services.transport import dead_letter_topic

    rendered = render_set(value_set)
    components = {c["metadata"]["name"]: c for c in rendered.of_kind("Component")}
    bound: set[str] = set()
    for deployment in rendered.of_kind("Deployment"):
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        app_id = pod_annotations(deployment)["dapr.io/app-id"]
        env = container_env(rendered, deployment, database_url)
        crons = {name: metadata_items(c)["route"]["value"] for name, c in components.items()
                 if c["spec"]["type"] == "bindings.cron" and app_id in c["scopes"]}
        async with app_of(deployment, env, monkeypatch, tmp_path / component) as (rt, app):
            async with client_of(app) as client:
                answer = await client.get("/dapr/subscribe", headers={"dapr-api-token": APP_TOKEN})
                refused = await client.get("/dapr/subscribe")
                declared = answer.json() if answer.status_code == 200 else []
                deliveries = {d["route"]: await delivered(client, d["route"]) for d in declared}
                ticks = {name: await ticked(client, route) for name, route in crons.items()}
            table = of_service(subscriptions(rt.uow), component)
            settings = rt.settings
        assert answer.status_code == 200 and refused.status_code == 401
        if component == WEB:
            assert settings.port == int(pod_annotations(deployment)["dapr.io/app-port"])
        live = {"tasks"} if component == WEB else set()  # the web host's live feed, beside its table rows
        assert {d["topic"] for d in declared} == {s.topic for s in table} | live, component
        if component == WEB:  # every web replica sees every task change: a consumer group per pod
            (feed,) = [d for d in declared if d["route"] == "/events/live"]
            assert metadata_items(components[feed["pubsubname"]])["consumerGroup"]["value"] == "{podName}"
        for d in declared:
            pubsub = components[d["pubsubname"]]
            assert pubsub["spec"]["type"] == "pubsub.kafka" and app_id in pubsub["scopes"], d
            assert d["deadLetterTopic"] == dead_letter_topic(d["topic"]) == f"{d['topic']}-dlq"
            response = deliveries[d["route"]]
            assert (response.status_code, response.json()) == (200, {"status": "DROP"}), d
        for name, response in ticks.items():
            assert response.status_code == 200, f"{name} POSTs {crons[name]} on {component}: {response.text}"
        bound |= set(crons)
        store = components[settings.dapr_state_store]
        assert (app_id in store["scopes"]) == (component in STATE_INBOX_SERVICES), component
    assert bound == {n for n, c in components.items() if c["spec"]["type"] == "bindings.cron"}


async def test_the_audit_app_answers_the_web_host_the_configuration_admits(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.transport.dapr_invoke import AUDIT_METHOD

    rendered = render_set("doks")
    web, audit = (rendered.one("Deployment", f"todo-agent-{c}") for c in ("web", "audit"))
    web_id, audit_id = (pod_annotations(d)["dapr.io/app-id"] for d in (web, audit))
    async with app_of(web, container_env(rendered, web, database_url), monkeypatch, tmp_path / "web") as (rt, _):
        assert rt.settings.dapr_audit_app_id == audit_id  # whom the web host invokes
    config = rendered.one("Configuration", pod_annotations(audit)["dapr.io/config"])
    path = f"/{AUDIT_METHOD}"
    trust = config["spec"]["accessControl"]["trustDomain"]
    for policy in config["spec"]["accessControl"]["policies"]:  # without them the sidecar refuses to start
        assert policy["trustDomain"] and policy["namespace"] == NAMESPACE
    assert acl_allows(config, caller=web_id, namespace=NAMESPACE, trust_domain=trust, verb="GET", path=path)
    assert not acl_allows(config, caller=web_id, namespace=NAMESPACE, trust_domain=trust, verb="DELETE", path=path)
    assert not acl_allows(config, caller=web_id, namespace=NAMESPACE, trust_domain=trust, verb="GET", path="/x")
    assert not acl_allows(config, caller="todo-agent-reminder", namespace=NAMESPACE, trust_domain=trust,
                          verb="GET", path=path)
    others = {pod_annotations(d)["dapr.io/config"] for d in rendered.of_kind("Deployment")}
    for name in others - {config["metadata"]["name"]}:  # nobody invokes the other apps
        assert not acl_allows(rendered.one("Configuration", name), caller=web_id, namespace=NAMESPACE,
                              trust_domain=trust, verb="GET", path=path)

    query = {"actor_id": "1", "actor_timezone": "UTC"}
    async with app_of(audit, container_env(rendered, audit, database_url), monkeypatch, tmp_path / "audit") as (_, app):
        async with client_of(app) as client:
            answers = {caller: await client.get(path, params=query, headers={
                "dapr-api-token": APP_TOKEN, "dapr-caller-app-id": caller})
                for caller in (web_id, "todo-agent-reminder")}
    assert answers[web_id].status_code == 200, answers[web_id].text
    assert answers["todo-agent-reminder"].status_code == 403
