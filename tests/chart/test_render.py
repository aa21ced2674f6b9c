"""The chart renders with Helm's own engine (helm-python-sdk = Helm SDK v4) for every value set of the matrix
(chart-testing's ci/*-values.yaml and the DOKS values), lints clean in strict mode against Kubernetes 1.30 and
1.34, and every manifest it renders is valid: the built-in kinds against the Kubernetes 1.30 API schemas
(kubernetes-validate, strict: no unknown field), the Dapr kinds against the Dapr 1.18 CRD schemas made strict.

Offline: no cluster, no helm binary; `lookup` finds nothing, so generated Secrets take their random branch."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.chart.manifests import (
    CHART,
    NAMESPACE,
    VALUE_SETS,
    dapr_errors,
    render_set,
    values_of,
)

BUILT_IN_KINDS = {"ConfigMap", "Secret", "ServiceAccount", "Service", "Deployment", "StatefulSet", "Job", "Pod",
                  "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy"}
DAPR_KINDS = {"Component", "Configuration", "Resiliency"}


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_every_value_set_renders_only_known_kinds_in_the_release_namespace(value_set: str) -> None:
    """Each manifest is a kind the chart means to render, names its namespace (no resource lands in `default`
    by accident), and no two resources of one kind share a name."""
    rendered = render_set(value_set)
    assert rendered.docs
    kinds = {d["kind"] for d in rendered.docs}
    assert kinds <= BUILT_IN_KINDS | DAPR_KINDS, kinds - BUILT_IN_KINDS - DAPR_KINDS
    assert {d["metadata"].get("namespace") for d in rendered.docs} == {NAMESPACE}
    duplicates = [key for key, n in Counter((d["kind"], d["metadata"]["name"]) for d in rendered.docs).items()
                  if n > 1]
    assert duplicates == []


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_built_in_manifests_validate_strictly_against_kubernetes_1_30(value_set: str) -> None:
    import kubernetes_validate  # type: ignore[import-untyped]

    rendered = render_set(value_set)
    errors = []
    for doc in rendered.docs:
        if doc["apiVersion"].startswith("dapr.io/"):
            continue
        try:
            kubernetes_validate.validate(doc, "1.30.0", strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{doc['kind']} {doc['metadata']['name']}: {exc}")
    assert errors == []


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_dapr_manifests_validate_against_the_strict_dapr_crd_schemas(value_set: str) -> None:
    rendered = render_set(value_set)
    dapr = [d for d in rendered.docs if d["apiVersion"].startswith("dapr.io/")]
    assert {d["kind"] for d in dapr} == DAPR_KINDS  # no Subscription: the apps declare theirs (/dapr/subscribe)
    assert {d["metadata"]["name"]: dapr_errors(d) for d in dapr} == {d["metadata"]["name"]: [] for d in dapr}


@pytest.mark.parametrize("kube_version", ["v1.30.0", "v1.34.0"])
@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_helm_lint_strict_reports_nothing(value_set: str, kube_version: str) -> None:
    """`helm lint --strict --kube-version X`: no error, no warning and no info (the chart has an icon)."""
    import helm_python

    report = helm_python.lint(str(CHART), values_of(value_set), strict=True, kube_version=kube_version)
    assert report["messages"] == [] and report["errors"] == [], report


def test_the_strict_crd_check_rejects_what_the_dapr_api_server_would() -> None:
    """The Dapr schema check can fail: the docs' lower-case `deadlettertopic`, a routing rule without `match`,
    Resiliency `targets` outside `spec` and an unknown Component field are each refused."""
    subscription: dict[str, Any] = {
        "apiVersion": "dapr.io/v2alpha1", "kind": "Subscription", "metadata": {"name": "reminder-tasks"},
        "spec": {"pubsubname": "pubsub", "topic": "tasks", "routes": {"rules": [{"path": "/events/reminder"}]},
                 "deadlettertopic": "tasks-dlq"},
    }
    assert {e.split(":")[0] for e in dapr_errors(subscription)} == {"spec", "spec/routes/rules/0"}
    resiliency = {"apiVersion": "dapr.io/v1alpha1", "kind": "Resiliency", "metadata": {"name": "r"},
                  "spec": {"policies": {}}, "targets": {}}
    assert len(dapr_errors(resiliency)) == 2  # `targets` unknown at the top, missing in spec
    component = {"apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": "c"},
                 "spec": {"type": "pubsub.kafka", "version": "v1", "metadata": [], "scope": ["x"]}}
    assert [e.split(":")[0] for e in dapr_errors(component)] == ["spec"]


def test_kubernetes_validate_strict_rejects_an_unknown_field() -> None:
    """The built-in check can fail too: a misspelt field in a rendered Deployment is refused."""
    import kubernetes_validate

    deployment = next(d for d in render_set("default").docs if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30.0", strict=True)
