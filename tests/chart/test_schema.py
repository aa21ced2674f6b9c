"""values.schema.json and the chart's own checks refuse bad values at render time, each naming the value to fix:
a wrong type, an unknown key (top level and nested), a value outside its enum, and the settings that cannot work
together (no database Secret, no broker, SASL without its Secret). And values.yaml documents every value it has
with a `## @param` line, and the schema knows every one of them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.chart.manifests import CHART, render, render_set, values_of


def render_error(values: dict[str, Any]) -> str:
    import helm_python

    with pytest.raises((helm_python.HelmValuesError, helm_python.HelmRenderError)) as caught:
        render(values)
    return str(caught.value)


@pytest.mark.parametrize(("override", "message"), [
    ({"web": {"replicaCount": "two"}}, "at '/web/replicaCount': got string, want integer"),
    ({"services": {"audit": {"port": 70000}}}, "at '/services/audit/port'"),
    ({"replicas": 3}, "additional properties 'replicas' not allowed"),
    ({"web": {"service": {"typo": True}}}, "at '/web/service': additional properties 'typo' not allowed"),
    ({"dapr": {"sidecar": {"resources": {"requests": {"cpu": "1", "memory": "1Gi", "gpu": 1}}}}},
     "at '/dapr/sidecar/resources/requests': additional properties 'gpu' not allowed"),
    ({"kafka": {"authType": "scram"}}, "at '/kafka/authType': value must be one of 'none', 'password', 'mtls'"),
    ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
    ({"config": {"logLevel": "LOUD"}}, "at '/config/logLevel'"),
    ({"config": {"extraEnv": {"PATH": "/tmp"}}}, "'PATH' does not match pattern '^TODO_AGENT_[A-Z0-9_]+$'"),
    ({"database": {"url": "mysql://root@db/todo"}}, "at '/database/url'"),
    ({"kafka": {"brokers": "no-port"}, "redpanda": {"enabled": False}}, "at '/kafka/brokers'"),
    ({"web": {"resources": {"limits": None}}}, "at '/web/resources': missing property 'limits'"),  # null: unset
])
def test_the_schema_refuses_a_bad_value_and_names_its_path(override: dict[str, Any], message: str) -> None:
    assert message in render_error(values_of("default", override))


@pytest.mark.parametrize(("value_set", "override", "message"), [
    ("doks", {"database": {"existingSecret": ""}}, "database.existingSecret is required"),
    ("default", {"database": {"url": ""}}, "database.existingSecret is required"),
    ("default", {"database": {"daprConnectionString": ""}}, "database.daprConnectionString is required"),
    ("default", {"redpanda": {"enabled": False}}, "kafka.brokers is required with redpanda.enabled=false"),
    ("default", {"kafka": {"brokers": "kafka:9092"}}, "kafka.brokers is set while redpanda.enabled is true"),
    ("external-kafka", {"kafka": {"sasl": {"existingSecret": ""}}}, "kafka.sasl.username and "
                                                                    "kafka.sasl.existingSecret are required"),
    ("default", {"kafka": {"authType": "mtls"}}, "kafka.mtls.existingSecret is required"),
    ("doks", {"ingress": {"hosts": []}}, "ingress.hosts needs at least one host"),
])
def test_settings_that_cannot_work_together_fail_the_render_saying_what_to_set(
    value_set: str, override: dict[str, Any], message: str
) -> None:
    assert message in render_error(values_of(value_set, override))


def test_an_existing_database_secret_wins_over_values_and_the_chart_makes_none() -> None:
    rendered = render_set("default", {"database": {"existingSecret": "mine"}})
    assert "todo-agent-database" not in rendered.names("Secret")
    job = rendered.one("Job", "todo-agent-migrations")
    refs = [e["valueFrom"]["secretKeyRef"]["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
            if "valueFrom" in e]
    assert refs == ["mine"]


def _leaves(values: Any, prefix: str = "") -> set[str]:
    """The documented paths of values.yaml: every key whose value is not a map of further values, and the maps
    documented as a whole (resources, security contexts, annotations, selectors)."""
    if not isinstance(values, dict) or not values:
        return {prefix}
    return set().union(*(_leaves(v, f"{prefix}.{k}" if prefix else k) for k, v in values.items()))


def test_values_yaml_documents_every_value_with_a_param_line() -> None:
    """Every value of values.yaml has its `## @param path description` line, or one of its parents has (a map
    passed through whole); and every @param names a value that exists."""
    import yaml

    text = (CHART / "values.yaml").read_text()
    params = dict(re.findall(r"^\s*## @param (\S+) (.+)$", text, flags=re.MULTILINE))
    values = yaml.safe_load(text)
    undocumented = sorted(
        path for path in _leaves(values)
        if not any(path == p or path.startswith(p + ".") for p in params)
    )
    assert undocumented == []
    for path in params:
        node: Any = values
        for key in path.split("."):
            assert isinstance(node, dict) and key in node, f"@param {path} names no value"
            node = node[key]
    assert all(len(description) > 10 for description in params.values())


def test_the_schema_knows_every_value_and_closes_every_section() -> None:
    """Each key of values.yaml is a property in values.schema.json (so the defaults pass), and each of the chart's
    own sections refuses unknown keys."""
    import yaml

    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        return node

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        node = resolve(node)
        if not isinstance(value, dict) or "properties" not in node:
            return
        assert node.get("additionalProperties") is False, f"{path or '(top)'} takes unknown keys"
        for key, child in value.items():
            assert key in node["properties"], f"{path}.{key} is not in the schema"
            walk(child, node["properties"][key], f"{path}.{key}" if path else key)

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    walk(values, schema, "")
