"""The chart's wiring holds together for every value set: the Dapr app ids, the components' scopes, the
Resiliency targets and the Configurations name what exists; every Secret, ConfigMap and ServiceAccount a pod
refers to is rendered or named by an existingSecret value; the ports and probe paths are the services' own
(runtime/cli/service.py DEFAULT_PORTS, Settings.port); the broker is the in-chart Redpanda or kafka.brokers."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.cli.service import DEFAULT_PORTS
from runtime.settings import Settings
from tests.chart.manifests import (
    VALUE_SETS,
    Rendered,
    containers,
    metadata_items,
    pod_annotations,
    pod_spec,
    render_set,
    values_of,
    workloads,
)

COMPONENTS = ("web", "reminder", "recurrence", "audit")
PORTS = {"web": Settings.model_fields["port"].default, **{name.value: port for name, port in DEFAULT_PORTS.items()}}


def app_ids(rendered: Rendered) -> dict[str, str]:
    """Component -> its Deployment's dapr.io/app-id."""
    ids = {}
    for deployment in rendered.of_kind("Deployment"):
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        ids[component] = pod_annotations(deployment)["dapr.io/app-id"]
    return ids


def existing_secrets(values: dict[str, Any]) -> set[str]:
    """Every Secret the values say exists outside the chart."""
    names = {values.get("database", {}).get("existingSecret"), values.get("secretKey", {}).get("existingSecret"),
             values.get("cohere", {}).get("existingSecret")}
    dapr = values.get("dapr", {})
    names |= {dapr.get("apiToken", {}).get("existingSecret"), dapr.get("appToken", {}).get("existingSecret")}
    kafka = values.get("kafka", {})
    names |= {kafka.get("sasl", {}).get("existingSecret"), kafka.get("mtls", {}).get("existingSecret")}
    return {n for n in names if n}


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_four_deployments_with_distinct_app_ids_each_on_its_own_port(value_set: str) -> None:
    rendered = render_set(value_set)
    ids = app_ids(rendered)
    assert sorted(ids) == sorted(COMPONENTS) and len(set(ids.values())) == 4
    assert ids == {c: f"todo-agent-{c}" for c in COMPONENTS}
    for deployment in rendered.of_kind("Deployment"):
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        annotations = pod_annotations(deployment)
        (container,) = containers(deployment)
        port = PORTS[component]
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        assert annotations["dapr.io/app-port"] == str(port)
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        expected_args = ["serve"] if component == "web" else ["service", component, "--port", str(port)]
        assert container["args"] == expected_args
        assert "dapr.io/disable-init-endpoints" not in annotations  # the apps' /dapr/subscribe is the one list


def test_app_ids_stay_distinct_and_short_enough_for_the_dapr_service_name_under_a_long_release_name() -> None:
    """The Dapr operator names a Service `<app-id>-dapr` (63 characters at most), so app ids are 58 at most; the
    release part is shortened, never the component."""
    release = "a-release-name-that-is-much-longer-than-anyone-would-type-in"
    ids = app_ids(render_set("default", name=release))
    assert len(set(ids.values())) == 4
    assert all(len(app_id) <= 58 and app_id.endswith(f"-{c}") for c, app_id in ids.items())


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_every_component_is_scoped_to_app_ids_that_exist(value_set: str) -> None:
    rendered = render_set(value_set)
    ids = app_ids(rendered)
    scopes = {c["metadata"]["name"]: c["scopes"] for c in rendered.of_kind("Component")}
    assert scopes == {
        "pubsub": [ids[c] for c in COMPONENTS],
        "pubsub-live": [ids["web"]],
        "statestore": [ids["reminder"], ids["recurrence"]],
        "reminder-sweep": [ids["reminder"]],
        "retention": [ids["web"]],
    }
    (resiliency,) = rendered.of_kind("Resiliency")
    assert sorted(resiliency["scopes"]) == sorted(ids.values())


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_resiliency_targets_and_policies_name_what_exists(value_set: str) -> None:
    """Inbound retries and a breaker for pubsub (else a RETRY dead-letters at once), inbound retries for both cron
    bindings, outbound retries for the state store, a timeout and retries for calls to the audit app."""
    rendered = render_set(value_set)
    (resiliency,) = rendered.of_kind("Resiliency")
    policies, targets = resiliency["spec"]["policies"], resiliency["spec"]["targets"]
    components = rendered.names("Component")
    assert targets["components"]["pubsub"]["inbound"].keys() == {"retry", "circuitBreaker"}
    assert {name for name, t in targets["components"].items() if "inbound" in t} == {
        "pubsub", "reminder-sweep", "retention"}
    assert set(targets["components"]) <= components and "outbound" in targets["components"]["statestore"]
    assert set(targets["apps"]) == {app_ids(rendered)["audit"]}
    for target in [*targets["apps"].values(), *(d for t in targets["components"].values() for d in t.values())]:
        assert target.get("retry") in policies["retries"]
        assert target.get("circuitBreaker", "pubsubBreaker") in policies["circuitBreakers"]
        assert target.get("timeout", "invoke") in policies["timeouts"]


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_each_deployment_loads_a_configuration_that_exists(value_set: str) -> None:
    rendered = render_set(value_set)
    configurations = rendered.names("Configuration")
    for deployment in rendered.of_kind("Deployment"):
        assert pod_annotations(deployment)["dapr.io/config"] in configurations


def _references(doc: dict[str, Any]) -> dict[str, set[str]]:
    """The Secrets, ConfigMaps and ServiceAccount a workload's pods (and their sidecar annotations) need."""
    spec = pod_spec(doc)
    refs: dict[str, set[str]] = {"Secret": set(), "ConfigMap": set(), "ServiceAccount": set()}
    refs["ServiceAccount"].add(spec.get("serviceAccountName", "default"))
    for container in containers(doc):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {})
            for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                if key in ref and not ref[key].get("optional"):
                    refs[kind].add(ref[key]["name"])
        for source in container.get("envFrom", []):
            for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                if key in source:
                    refs[kind].add(source[key]["name"])
    for volume in spec.get("volumes", []):
        assert set(volume) - {"name"} == {"emptyDir"}, volume  # nothing else is mounted
    annotations = pod_annotations(doc)
    refs["Secret"] |= {annotations[k] for k in ("dapr.io/api-token-secret", "dapr.io/app-token-secret")
                       if k in annotations}
    return refs


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_every_reference_names_a_rendered_resource_or_an_existing_secret(value_set: str) -> None:
    values = values_of(value_set)
    rendered = render_set(value_set)
    outside = existing_secrets(values)
    account = values.get("serviceAccount", {})
    outside_accounts = {account["name"]} if account.get("create") is False else set()
    for doc in workloads(rendered):
        for kind, names in _references(doc).items():
            known = rendered.names(kind) | (outside if kind == "Secret" else set())
            known |= outside_accounts if kind == "ServiceAccount" else set()
            assert names <= known, f"{doc['kind']} {doc['metadata']['name']} needs {kind} {names - known}"
    for component in rendered.of_kind("Component"):
        for item in component["spec"]["metadata"]:
            if "secretKeyRef" in item:
                assert item["secretKeyRef"]["name"] in rendered.names("Secret") | outside


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_the_configmap_tells_the_apps_the_chart_s_names(value_set: str) -> None:
    rendered = render_set(value_set)
    ids = app_ids(rendered)
    data = rendered.one("ConfigMap", "todo-agent-config")["data"]
    assert {k: data[k] for k in ("TODO_AGENT_ENV", "TODO_AGENT_BUS", "TODO_AGENT_HOST", "TODO_AGENT_DATA_DIR")} == {
        "TODO_AGENT_ENV": "production", "TODO_AGENT_BUS": "dapr", "TODO_AGENT_HOST": "0.0.0.0",
        "TODO_AGENT_DATA_DIR": "/data"}
    components = rendered.names("Component")
    assert {data["TODO_AGENT_DAPR_PUBSUB"], data["TODO_AGENT_DAPR_LIVE_PUBSUB"],
            data["TODO_AGENT_DAPR_STATE_STORE"]} <= components
    assert data["TODO_AGENT_DAPR_AUDIT_APP_ID"] == ids["audit"]
    assert data["TODO_AGENT_DAPR_AUDIT_CALLERS"] == ids["web"]
    assert f"{ids['web']}:*" in data["TODO_AGENT_ALLOWED_HOSTS"].split(",")


def test_the_doks_values_publish_the_ingress_host_over_https_and_trust_the_pod_network() -> None:
    data = render_set("doks").one("ConfigMap", "todo-agent-config")["data"]
    assert data["TODO_AGENT_PUBLIC_URL"] == "https://todo.example.com"
    assert data["TODO_AGENT_ALLOWED_HOSTS"] == "todo.example.com,todo-agent-web:*"
    assert data["TODO_AGENT_TRUSTED_PROXIES"] == "10.244.0.0/16"
    behind_lb = render_set("doks-loadbalancer").one("ConfigMap", "todo-agent-config")["data"]
    assert behind_lb["TODO_AGENT_ALLOWED_HOSTS"] == "todo.example.com,todo-agent-web:*"  # the public URL's host


def test_redpanda_is_the_broker_by_default_and_kafka_brokers_replace_it() -> None:
    rendered = render_set("default")
    (statefulset,) = rendered.of_kind("StatefulSet")
    service = rendered.one("Service", statefulset["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    own = f"{statefulset['metadata']['name']}-0.{service['metadata']['name']}.todo.svc.cluster.local:9092"
    brokers = {metadata_items(c)["brokers"]["value"] for c in rendered.of_kind("Component")
               if c["spec"]["type"] == "pubsub.kafka"}
    assert brokers == {own}
    args = containers(statefulset)[0]["args"]
    assert f"--advertise-kafka-addr=internal://$(POD_NAME).{service['metadata']['name']}.todo.svc.cluster.local:9092" \
        in args
    volume = statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert {"name": volume, "mountPath": "/var/lib/redpanda/data"} in containers(statefulset)[0]["volumeMounts"]

    external = render_set("default", {"redpanda": {"enabled": False}, "kafka": {"brokers": "k1:9092,k2:9092"}})
    assert external.of_kind("StatefulSet") == []
    assert not any("redpanda" in name for kind in ("Service", "NetworkPolicy") for name in external.names(kind))
    assert {metadata_items(c)["brokers"]["value"] for c in external.of_kind("Component")
            if c["spec"]["type"] == "pubsub.kafka"} == {"k1:9092,k2:9092"}


def test_the_doks_broker_keeps_its_data_on_do_block_storage() -> None:
    (statefulset,) = render_set("doks").of_kind("StatefulSet")
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "do-block-storage"


def test_sasl_puts_the_password_in_a_secret_reference_not_a_value() -> None:
    items = metadata_items(render_set("external-kafka").one("Component", "pubsub"))
    assert items["authType"]["value"] == "password" and items["saslUsername"]["value"] == "todo-agent"
    assert items["saslPassword"] == {"name": "saslPassword",
                                     "secretKeyRef": {"name": "todo-agent-kafka", "key": "password"}}
    assert items["saslMechanism"]["value"] == "SHA-512" and "disableTls" not in items
    assert items["initialOffset"]["value"] == "oldest" and "consumerGroup" not in items
    live = metadata_items(render_set("external-kafka").one("Component", "pubsub-live"))
    assert live["consumerGroup"]["value"] == "{podName}" and live["initialOffset"]["value"] == "newest"


def test_the_state_store_reads_the_pgx_string_from_the_database_secret() -> None:
    items = metadata_items(render_set("everything-off").one("Component", "statestore"))
    assert items["connectionString"] == {"name": "connectionString",
                                         "secretKeyRef": {"name": "todo-agent-database", "key": "pgx-url"}}
    assert items["tablePrefix"]["value"] == "dapr_"
