"""A policy scan of the rendered manifests with checkov (its Kubernetes checks: root, capabilities, probes, limits,
seccomp, service-account tokens, namespaces, NetworkPolicy coverage...). Nothing may fail but the waivers below,
each for the resources it names and for the reason it gives; a waiver that no longer applies fails the test too,
so the list stays true."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.chart.manifests import render_set

pytestmark = pytest.mark.slow  # checkov takes ~4 s a run

Resource = str  # checkov's "Kind.namespace.name"
WAIVERS: dict[str, tuple[str, Callable[[Resource], bool]]] = {
    "CKV_K8S_43": ("Image should use digest: the images are pinned by version tag; image.digest and "
                   "redpanda.image.digest pin them by digest where that is wanted", lambda r: True),
    "CKV_K8S_15": ("Image Pull Policy should be Always: IfNotPresent, since tags are versions that are never "
                   "re-pushed; Always would pull on every pod start", lambda r: True),
    "CKV_K8S_35": ("Prefer secrets as files over environment variables: the app reads its settings only from the "
                   "environment (runtime/settings.py, pydantic-settings), the Dapr tokens included",
                   lambda r: r.split(".")[0] in ("Deployment", "Job")),
    "CKV_K8S_40": ("Containers should run as a high UID: the Redpanda image's own user is uid 101 and owns its "
                   "files; the app's containers run as 10001", lambda r: r.endswith("-redpanda")),
    "CKV_K8S_8": ("Liveness probe: a helm test pod makes one request and exits; there is nothing to probe",
                  lambda r: r.startswith("Pod.") and "-test-" in r),
    "CKV_K8S_9": ("Readiness probe: a helm test pod makes one request and exits; there is nothing to probe",
                  lambda r: r.startswith("Pod.") and "-test-" in r),
}
# A value set that switches a safeguard off on purpose has that check waived too.
WAIVERS_OF_SET: dict[str, dict[str, tuple[str, Callable[[Resource], bool]]]] = {
    "everything-off": {"CKV2_K8S_6": ("Pods without a NetworkPolicy: this set turns them off on purpose "
                                      "(networkPolicy.enabled=false, for a cluster that brings its own)",
                                      lambda r: True)},
}


SCANNED = ("default", "doks", "external-kafka", "everything-off")


def scan(checkov: Path, folder: Path) -> tuple[int, dict[str, list[Resource]]]:
    """checkov on the manifests in `folder`: how many checks passed, and check id -> the resources failing it."""
    result = subprocess.run(
        [str(checkov), "-d", str(folder), "--framework", "kubernetes", "--compact", "--quiet", "-o", "json"],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode in (0, 1), result.stderr  # 1: some checks failed
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)
    failed: dict[str, list[Resource]] = {}
    for r in reports:
        for check in r["results"]["failed_checks"]:
            failed.setdefault(check["check_id"], []).append(check["resource"])
    return sum(r["summary"]["passed"] for r in reports), failed


@pytest.fixture(scope="module")
def findings(checkov: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, dict[str, Any]]]:
    """checkov on each scanned value set's manifests, one run per set: its checks across resources (a
    NetworkPolicy selecting the pods) must see that set alone."""
    folders = {}
    for value_set in SCANNED:
        folders[value_set] = tmp_path_factory.mktemp(value_set)
        for path, text in render_set(value_set).files.items():
            if path.endswith(".yaml") and text.strip():
                (folders[value_set] / path.replace("/", "_")).write_text(text)
    with ThreadPoolExecutor(max_workers=2) as pool:  # two checkov processes at a time: most of a run is start-up
        scans = {value_set: pool.submit(scan, checkov, folder) for value_set, folder in folders.items()}
        return {value_set: future.result() for value_set, future in scans.items()}


@pytest.mark.parametrize("value_set", SCANNED)
def test_checkov_finds_nothing_beyond_the_waivers(findings: dict[str, tuple[int, dict[str, Any]]],
                                                  value_set: str) -> None:
    passed, failed = findings[value_set]
    assert passed > 300  # it did check the manifests
    waivers = WAIVERS | WAIVERS_OF_SET.get(value_set, {})
    unwaived = {check: [r for r in resources if check not in waivers or not waivers[check][1](r)]
                for check, resources in failed.items()}
    assert {check: resources for check, resources in unwaived.items() if resources} == {}


def test_every_waiver_is_still_needed(findings: dict[str, tuple[int, dict[str, Any]]]) -> None:
    """A waiver whose check no longer fails anywhere goes (so the list stays true)."""
    for value_set, waivers in WAIVERS_OF_SET.items():
        assert set(waivers) <= set(findings[value_set][1]), value_set
    assert set().union(*(failed for _, failed in findings.values())) == set(WAIVERS) | {
        check for waivers in WAIVERS_OF_SET.values() for check in waivers}


def test_the_scan_fails_a_privileged_container(checkov: Path, tmp_path: Path) -> None:
    """The scan can fail: a privileged container running as root is reported."""
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bad, namespace: todo}\n"
        "spec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"
        "    securityContext: {privileged: true, runAsUser: 0}\n")
    _, failed = scan(checkov, tmp_path)
    assert {"CKV_K8S_16", "CKV_K8S_23"} <= set(failed)  # a privileged container; root containers admitted
