"""What the chart's pods promise: every container non-root with a read-only root filesystem, no capabilities,
the RuntimeDefault seccomp profile and sized requests and limits, and no Kubernetes API token; the migration Job
runs before the pods as a hook (its ServiceAccount and a chart-made Secret at lower weights), without Dapr; the
checksums roll the pods when (and only when) what they read changes; the PDBs, the HPA, the NetworkPolicies and
the helm test pods are there when switched on; NOTES.txt says how to create the first user."""

from __future__ import annotations

import pytest

from tests.chart.manifests import (
    VALUE_SETS,
    containers,
    is_hook,
    pod_annotations,
    pod_spec,
    render_set,
    workloads,
)


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_every_container_is_locked_down_and_sized(value_set: str) -> None:
    for doc in workloads(render_set(value_set)):
        spec = pod_spec(doc)
        where = f"{doc['kind']} {doc['metadata']['name']}"
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        mounts = {v["name"] for v in spec.get("volumes", [])} | {
            t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])}
        for container in containers(doc):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True and context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert context["runAsUser"] >= 10000 or "redpanda" in container["name"], where  # Redpanda's uid 101
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}, where
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], where
            assert {m["name"] for m in container["volumeMounts"]} <= mounts, where


@pytest.mark.parametrize("value_set", list(VALUE_SETS))
def test_app_pods_carry_the_sidecar_settings_and_the_checksums(value_set: str) -> None:
    for deployment in render_set(value_set).of_kind("Deployment"):
        annotations = pod_annotations(deployment)
        assert {"checksum/config", "checksum/secret", "checksum/dapr"} <= set(annotations)
        assert annotations["dapr.io/enabled"] == "true"
        assert annotations["dapr.io/enable-app-health-check"] == "true"
        assert annotations["dapr.io/app-health-check-path"] == "/healthz"
        assert annotations["dapr.io/sidecar-seccomp-profile-type"] == "RuntimeDefault"
        for key in ("cpu-request", "cpu-limit", "memory-request", "memory-limit"):
            assert annotations[f"dapr.io/sidecar-{key}"], key
        # No API token is mounted, and the sidecar's built-in Kubernetes secret store cannot start without one.
        assert annotations["dapr.io/disable-builtin-k8s-secret-store"] == "true"
        env = {e["name"]: e for e in containers(deployment)[0]["env"]}
        # The injector gives DAPR_API_TOKEN to daprd only: the app gets it from the same Secret.
        assert env["DAPR_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
            "name": annotations["dapr.io/api-token-secret"], "key": "token"}
        assert env["APP_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
            "name": annotations["dapr.io/app-token-secret"], "key": "token"}


def test_nothing_but_the_app_deployments_gets_a_sidecar() -> None:
    rendered = render_set("default")
    for doc in workloads(rendered):
        sidecar = any(k.startswith("dapr.io/") for k in pod_annotations(doc))
        assert sidecar == (doc["kind"] == "Deployment"), doc["metadata"]["name"]


def test_the_migration_job_runs_first_as_a_hook_with_its_account_and_secret_before_it() -> None:
    rendered = render_set("default")
    job = rendered.one("Job", "todo-agent-migrations")
    hooks = {(d["kind"], d["metadata"]["name"]): d["metadata"]["annotations"] for d in rendered.docs if is_hook(d)}
    spec = pod_spec(job)
    account = ("ServiceAccount", spec["serviceAccountName"])
    (secret,) = {("Secret", e["valueFrom"]["secretKeyRef"]["name"]) for e in spec["containers"][0]["env"]
                 if "valueFrom" in e}
    assert secret == ("Secret", "todo-agent-database")  # chart-made from database.url
    assert set(hooks) - {("Pod", p["metadata"]["name"]) for p in rendered.of_kind("Pod")} == {
        ("Job", "todo-agent-migrations"), account, secret}
    for key in (("Job", "todo-agent-migrations"), account, secret):
        assert hooks[key]["helm.sh/hook"] == "pre-install,pre-upgrade", key
    weights = [int(hooks[key]["helm.sh/hook-weight"]) for key in (account, secret, ("Job", "todo-agent-migrations"))]
    assert weights == [-10, -5, 0]
    assert spec["containers"][0]["args"] == ["db", "upgrade"] and spec["restartPolicy"] == "Never"
    assert "envFrom" not in spec["containers"][0]  # the ConfigMap is not there yet on a fresh install
    job_policy = hooks[("Job", "todo-agent-migrations")]["helm.sh/hook-delete-policy"]
    assert job_policy == "before-hook-creation,hook-succeeded"


def test_without_helm_hooks_the_migration_job_is_plain_and_named_by_revision() -> None:
    rendered = render_set("everything-off", revision=7, upgrade=True)
    (job,) = rendered.of_kind("Job")
    assert job["metadata"]["name"] == "todo-agent-migrations-r7" and not is_hook(job)
    assert not any(is_hook(d) for d in rendered.docs)  # nor its account; and no test pods


def test_the_checksums_change_with_what_the_pods_read_and_only_then() -> None:
    def checksums(**override: object) -> dict[str, str]:
        web = render_set("default", dict(override)).one("Deployment", "todo-agent-web")
        return {k: v for k, v in pod_annotations(web).items() if k.startswith("checksum/")}

    base = checksums()
    assert checksums() == base  # stable, though the generated tokens are random in every offline render
    changed = checksums(config={"logLevel": "DEBUG"})
    assert changed["checksum/config"] != base["checksum/config"]
    assert {k: changed[k] for k in ("checksum/secret", "checksum/dapr")} == {
        k: base[k] for k in ("checksum/secret", "checksum/dapr")}
    assert checksums(database={"existingSecret": "other"})["checksum/secret"] != base["checksum/secret"]
    assert checksums(dapr={"resiliency": {"pubsubMaxRetries": 3}})["checksum/dapr"] != base["checksum/dapr"]
    # A Component change is applied by Dapr's HotReload in place; without HotReload it restarts the pods.
    sweep = {"bindings": {"reminderSweepSchedule": "@every 1m"}}
    assert checksums(dapr=sweep)["checksum/dapr"] == base["checksum/dapr"]
    cold = checksums(dapr={"hotReload": False})["checksum/dapr"]
    assert checksums(dapr={"hotReload": False, **sweep})["checksum/dapr"] != cold


def test_the_web_host_scales_with_an_hpa_and_every_component_has_a_pdb_in_the_doks_values() -> None:
    rendered = render_set("doks")
    (hpa,) = rendered.of_kind("HorizontalPodAutoscaler")
    web = rendered.one("Deployment", hpa["spec"]["scaleTargetRef"]["name"])
    assert "replicas" not in web["spec"]  # the HPA owns it
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 4)
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    pdbs = {p["metadata"]["name"]: p for p in rendered.of_kind("PodDisruptionBudget")}
    for deployment in rendered.of_kind("Deployment"):
        pdb = pdbs[deployment["metadata"]["name"]]
        assert pdb["spec"]["maxUnavailable"] == 1
        assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_everything_off_renders_no_optional_resource() -> None:
    rendered = render_set("everything-off")
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "NetworkPolicy", "StatefulSet",
                 "Pod", "Secret", "ServiceAccount"):
        assert rendered.of_kind(kind) == [], kind


def _policy(rendered_set: str, component: str) -> list[dict[str, object]]:
    rendered = render_set(rendered_set)
    rules: list[dict[str, object]] = rendered.one("NetworkPolicy", f"todo-agent-{component}")["spec"]["ingress"]
    return rules


def test_network_policies_deny_by_default_and_allow_the_wiring() -> None:
    rendered = render_set("doks")
    deny = rendered.one("NetworkPolicy", "todo-agent-default-deny")["spec"]
    assert deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    web = _policy("doks", "web")
    assert web[0]["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}},
                               "podSelector": {}}]
    assert web[0]["ports"] == [{"port": 8000, "protocol": "TCP"}]
    audit = _policy("doks", "audit")
    assert audit[0] == {"ports": [{"port": 50002, "protocol": "TCP"}], "from": [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "todo-agent", "app.kubernetes.io/instance": "todo-agent",
        "app.kubernetes.io/component": "web"}}}]}
    for component, port in (("web", 8000), ("reminder", 8001), ("recurrence", 8002), ("audit", 8003)):
        tests = [r for r in _policy("doks", component)
                 if r.get("from") == [{"podSelector": {"matchLabels": {
                     "app.kubernetes.io/name": "todo-agent", "app.kubernetes.io/instance": "todo-agent",
                     "app.kubernetes.io/component": "test"}}}]]
        assert [t["ports"] for t in tests] == [[{"port": port, "protocol": "TCP"}]], component
    # Behind a DigitalOcean load balancer the traffic comes from the nodes: the web port is open to all.
    assert "from" not in _policy("doks-loadbalancer", "web")[0]


def test_helm_test_pods_ask_each_component_for_readyz_with_the_app_image_and_no_sidecar() -> None:
    rendered = render_set("doks")
    pods = rendered.of_kind("Pod")
    image = containers(rendered.one("Deployment", "todo-agent-web"))[0]["image"]
    assert len(pods) == 4
    urls = set()
    for pod in pods:
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        (container,) = containers(pod)
        assert container["image"] == image and container["command"] == ["python", "-c"]
        urls |= {line.split('"')[1] for line in container["args"][0].splitlines() if line.startswith("url = ")}
    assert urls == {"http://todo-agent-web:80/readyz", "http://todo-agent-reminder:8001/readyz",
                    "http://todo-agent-recurrence:8002/readyz", "http://todo-agent-audit:8003/readyz"}
    for url in urls:
        name, port = url.removeprefix("http://").split("/")[0].split(":")
        assert int(port) in {p["port"] for p in rendered.one("Service", name)["spec"]["ports"]}


def test_notes_say_where_it_answers_and_how_to_create_the_first_user() -> None:
    notes = render_set("doks").notes
    assert "https://todo.example.com/mcp" in notes
    assert "kubectl -n todo exec -it deploy/todo-agent-web -c web -- todo-agent user create EMAIL" in notes
    assert "/readyz" in notes and "helm test todo-agent -n todo" in notes
    assert "kubectl -n todo port-forward service/todo-agent-web 8000:80" in render_set("default").notes


def _quantity(value: str | int) -> float:
    """A Kubernetes quantity in cores or bytes (the suffixes the chart uses)."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text)


def test_the_doks_values_fit_three_nodes_of_2_vcpu_and_4_gb_at_the_most_replicas() -> None:
    """Requests (app containers plus their Dapr sidecars) at the HPA's maximum take at most half of the nodes'
    3 x (2 vCPU, 4 GiB), leaving the rest to the Dapr control plane, ingress-nginx, cert-manager and DigitalOcean's
    own reservations; and every pod's limits fit on one node."""
    rendered = render_set("doks")
    (hpa,) = rendered.of_kind("HorizontalPodAutoscaler")
    cpu = memory = 0.0
    for doc in workloads(rendered):
        if doc["kind"] in ("Job", "Pod"):
            continue  # the migration and the tests run before and after, not beside
        replicas = hpa["spec"]["maxReplicas"] if "replicas" not in doc["spec"] else doc["spec"]["replicas"]
        annotations = pod_annotations(doc)
        pod_cpu = sum(_quantity(c["resources"]["requests"]["cpu"]) for c in containers(doc))
        pod_memory = sum(_quantity(c["resources"]["requests"]["memory"]) for c in containers(doc))
        limit_cpu = sum(_quantity(c["resources"]["limits"]["cpu"]) for c in containers(doc))
        limit_memory = sum(_quantity(c["resources"]["limits"]["memory"]) for c in containers(doc))
        if annotations.get("dapr.io/enabled") == "true":
            pod_cpu += _quantity(annotations["dapr.io/sidecar-cpu-request"])
            pod_memory += _quantity(annotations["dapr.io/sidecar-memory-request"])
            limit_cpu += _quantity(annotations["dapr.io/sidecar-cpu-limit"])
            limit_memory += _quantity(annotations["dapr.io/sidecar-memory-limit"])
        assert limit_cpu <= 2 and limit_memory <= 3 * 2**30, doc["metadata"]["name"]
        cpu, memory = cpu + replicas * pod_cpu, memory + replicas * pod_memory
    assert cpu <= 3 * 2 / 2 and memory <= 3 * 4 * 2**30 / 2, (cpu, memory / 2**30)
