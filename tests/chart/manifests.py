"""Rendering the Helm chart for tests, with Helm's own engine (helm-python-sdk, Helm SDK v4): the value sets of
the render matrix, the rendered manifests as parsed documents, and the strict JSON Schemas of the Dapr kinds (from
the Dapr CRDs in tests/chart/crds). No cluster and no helm binary: rendering is offline, `lookup` finds nothing.

Helpers only: no test lives here, and the tools are imported lazily so that a missing one is reported by the
conftest's check (a skip, or a failure under CI) instead of an import error at collection.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHART = Path(__file__).resolve().parents[2] / "chart"
CRDS = Path(__file__).with_name("crds")
RELEASE, NAMESPACE = "todo-agent", "todo"

# The render matrix: chart-testing's ci/*-values.yaml files, and the DOKS values (alone and with the load-balancer
# overlay). Each is a list of files merged in order, as `helm install -f a -f b` merges them.
VALUE_SETS: dict[str, list[str]] = {
    "default": ["ci/default-values.yaml"],
    "external-kafka": ["ci/external-kafka-values.yaml"],
    "everything-off": ["ci/everything-off-values.yaml"],
    "doks": ["values-doks.yaml"],
    "doks-loadbalancer": ["values-doks.yaml", "values-doks-loadbalancer.yaml"],
}

# The Dapr kinds the chart may render, and the CRD schema (a copy, see crds/README.md) each is checked against.
DAPR_SCHEMAS = {
    ("dapr.io/v1alpha1", "Component"): "component-v1alpha1.json",
    ("dapr.io/v1alpha1", "Configuration"): "configuration-v1alpha1.json",
    ("dapr.io/v1alpha1", "Resiliency"): "resiliency-v1alpha1.json",
    ("dapr.io/v2alpha1", "Subscription"): "subscription-v2alpha1.json",
}
POD_KINDS = ("Deployment", "StatefulSet", "Job", "Pod")


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` deep-merged into a copy of `base` (maps merge, the rest is replaced), as Helm merges -f files."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def values_of(value_set: str, override: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values of a value set, with `override` deep-merged over them."""
    import yaml

    values: dict[str, Any] = {}
    for name in VALUE_SETS[value_set]:
        values = merge(values, yaml.safe_load((CHART / name).read_text()) or {})
    return merge(values, override or {})


@functools.cache
def chart() -> Any:
    """The chart, loaded once (a helm_python.Chart; immutable)."""
    import helm_python

    return helm_python.Chart.load(str(CHART))


@dataclass(frozen=True)
class Rendered:
    """One render: the template files' text and the manifests parsed from them (NOTES.txt apart)."""

    files: dict[str, str]
    docs: list[dict[str, Any]]

    @property
    def notes(self) -> str:
        return next(text for path, text in self.files.items() if path.endswith("/templates/NOTES.txt"))

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def names(self, kind: str) -> set[str]:
        return {d["metadata"]["name"] for d in self.of_kind(kind)}

    def one(self, kind: str, name: str) -> dict[str, Any]:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"{len(found)} {kind} named {name!r}; rendered: {sorted(self.names(kind))}"
        return found[0]


def render(values: Mapping[str, Any], *, name: str = RELEASE, namespace: str = NAMESPACE, revision: int = 1,
           upgrade: bool = False) -> Rendered:
    """Render the chart as `helm install` (or `helm upgrade`) would, offline."""
    import yaml

    files = chart().render(dict(values), name=name, namespace=namespace, revision=revision,
                           is_install=not upgrade, is_upgrade=upgrade)
    docs = [doc for path, text in sorted(files.items()) if not path.endswith("NOTES.txt")
            for doc in yaml.safe_load_all(text) if doc]
    return Rendered(files=files, docs=docs)


def render_set(value_set: str, override: Mapping[str, Any] | None = None, **kwargs: Any) -> Rendered:
    return render(values_of(value_set, override), **kwargs)


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Pod or of a workload's pod template."""
    if doc["kind"] == "Pod":
        return dict(doc["spec"])
    return dict(doc["spec"]["template"]["spec"])


def pod_annotations(doc: dict[str, Any]) -> dict[str, str]:
    meta = doc["metadata"] if doc["kind"] == "Pod" else doc["spec"]["template"]["metadata"]
    return dict(meta.get("annotations") or {})


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(doc)
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def workloads(rendered: Rendered) -> Iterator[dict[str, Any]]:
    """Every document that runs pods."""
    return (d for d in rendered.docs if d["kind"] in POD_KINDS)


def is_hook(doc: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (doc["metadata"].get("annotations") or {})


def strict(schema: Any) -> Any:
    """A CRD's openAPIV3Schema made strict as `kubectl apply --validate=strict` treats it: an object with
    `properties` and no `additionalProperties` (nor x-kubernetes-preserve-unknown-fields) takes no other field."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


# ObjectMeta as far as a chart sets it (the CRDs leave `metadata` as a bare object; the API server checks it).
_OBJECT_META = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


@functools.cache
def dapr_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The strict schema of a Dapr kind (KeyError for a kind or version the chart must not render)."""
    raw = json.loads((CRDS / DAPR_SCHEMAS[(api_version, kind)]).read_text())
    schema: dict[str, Any] = strict(raw)
    schema["properties"]["metadata"] = _OBJECT_META
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return schema


def dapr_errors(doc: dict[str, Any]) -> list[str]:
    """Why a Dapr resource does not validate against its CRD (empty: it does)."""
    import jsonschema  # type: ignore[import-untyped]

    validator = jsonschema.Draft7Validator(dapr_schema(doc["apiVersion"], doc["kind"]))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def metadata_items(component: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A Dapr Component's metadata list as name -> item."""
    return {item["name"]: item for item in component["spec"]["metadata"]}


def acl_allows(configuration: dict[str, Any], *, caller: str, namespace: str, trust_domain: str, verb: str,
               path: str) -> bool:
    """Whether a Dapr Configuration's access control lets `caller` invoke `verb path` on the app that loads it.

    The same evaluation as the sidecar's (dapr/dapr pkg/acl/acl.go, pkg/config/acl_trie.go at v1.18): no
    accessControl allows all; a caller without a policy (or of another trust domain or namespace) gets the global
    defaultAction; else the first operation whose name matches the path (case-insensitive for HTTP; `/*` matches
    one segment or none at the end, `/**` the rest) decides by its verb, falling back to the policy's defaultAction.
    """
    acl = configuration["spec"].get("accessControl")
    if not acl:
        return True
    action = acl.get("defaultAction", "deny")
    for policy in acl.get("policies", []):
        if (policy["appId"], policy.get("namespace"), policy.get("trustDomain")) != (caller, namespace, trust_domain):
            continue
        action = policy.get("defaultAction") or action
        for operation in policy.get("operations", []):
            if _operation_matches(operation["name"].lower(), path.lower()):
                verbs = operation.get("httpVerb", [])
                if verb in verbs or "*" in verbs:
                    action = operation["action"]
                break
    return str(action).lower() == "allow"


def _operation_matches(pattern: str, path: str) -> bool:
    want = pattern.strip("/").split("/")
    got = path.split("?")[0].strip("/").split("/")
    for i, part in enumerate(want):
        if part == "**":
            return True
        if part == "*":
            return len(got) in (i, i + 1) and i == len(want) - 1
        if i >= len(got) or got[i] != part:
            return False
    return len(got) == len(want)
