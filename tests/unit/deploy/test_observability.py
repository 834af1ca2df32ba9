"""Alerts and dashboards as code (deploy/observability): the rules pass `promtool check
rules` and their unit tests (`promtool test rules`: every alert fires on one input and stays
quiet on another), the rules and dashboards name only series the services export (read from
the code's prometheus-client registries), the generated files are up to date, and the
Kubernetes and compose wiring holds together. promtool comes from Debian's `prometheus`
package (`make promtool`, which `make test` runs); without it those checks are skipped."""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .manifests import COMPOSE_DIR, DEPLOY, compose

OBS = DEPLOY / "observability"
RULES = OBS / "prometheus" / "alerts.yml"
RULE_TESTS = OBS / "prometheus" / "alerts.test.yml"
DASHBOARDS = OBS / "grafana" / "dashboards"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make promtool` installs Debian's prometheus "
                             "package (as root), or apt-get install prometheus")

#: the modules whose registries hold every series the services export
METRIC_MODULES = ("stampede_runtime.metrics", "stampede_gateway.metrics",
                  "stampede_inventory.metrics", "stampede_orders.metrics",
                  "stampede_notifier.metrics")
SERIES = re.compile(r"\bstampede_[a-z0-9_]+\b")


def families() -> dict[str, str]:
    """The services' metric families (name without ``_total``: type), from the
    prometheus-client registry their modules register in."""
    from prometheus_client import REGISTRY

    for module in METRIC_MODULES:
        importlib.import_module(module)
    return {f.name: f.type for f in REGISTRY.collect() if f.name.startswith("stampede_")}


def exported_series() -> set[str]:
    """Every series name the services' collectors can expose."""
    suffixes = {"counter": ("_total", "_created"), "gauge": ("",),
                "histogram": ("_bucket", "_sum", "_count", "_created"),
                "summary": ("", "_sum", "_count", "_created"), "info": ("_info",)}
    return {name + s for name, kind in families().items() for s in suffixes.get(kind, ("",))}


def rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return exprs


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60,
                          check=False, cwd=RULES.parent)


# -- promtool -------------------------------------------------------------------------------
@needs_promtool
def test_promtool_checks_the_rules_and_the_compose_prometheus_config() -> None:
    for args in (("check", "rules", RULES.name), ("check", "config", "prometheus.yml")):
        result = _promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_unit_tests_of_every_alert_pass() -> None:
    result = _promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_test_that_fires_it_and_one_that_does_not() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            (fired if case["exp_alerts"] else quiet).add(case["alertname"])
    alerts = {r["alert"] for r in rules()}
    assert alerts == {
        "StampedeOversell", "StampedeDeadLetters", "StampedeConsumerLag",
        "StampedeCommandPartitionWithoutOwner", "StampedeReplyTimeouts", "StampedeHTTP5xx",
        "StampedeServiceUnavailable", "StampedeWaitingRoomStalled"}
    assert alerts - fired == set(), "alerts no test fires"
    assert alerts - quiet == set(), "alerts no test keeps quiet"


# -- only series the services export ----------------------------------------------------------
def test_the_registries_hold_the_series_part_a_documents() -> None:
    documented = set(SERIES.findall((DEPLOY.parent / "docs" / "metrics.md").read_text()))
    known = exported_series() | set(families())
    assert documented <= known, sorted(documented - known)


def test_rules_name_only_exported_series() -> None:
    names = exported_series()
    for rule in rules():
        used = set(SERIES.findall(rule["expr"]))
        assert used, rule["alert"]
        assert used <= names, f"{rule['alert']}: {sorted(used - names)} are not exported"


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboards_name_only_exported_series(name: str) -> None:
    names = exported_series()
    exprs = dashboard_exprs(dashboards()[name])
    assert exprs
    for expr in exprs:
        used = set(SERIES.findall(expr))
        assert used, expr
        assert used <= names, f"{name}: {sorted(used - names)} are not exported"


def test_the_owner_alert_counts_every_commands_partition() -> None:
    from stampede_contracts.topics import INVENTORY_COMMANDS

    (rule,) = [r for r in rules() if r["alert"] == "StampedeCommandPartitionWithoutOwner"]
    assert rule["expr"].endswith(f"< {INVENTORY_COMMANDS.partitions}")


# -- dashboards -----------------------------------------------------------------------------
def test_a_dashboard_per_service_and_one_for_a_drop() -> None:
    found = dashboards()
    assert set(found) == {"gateway.json", "inventory.json", "orders.json", "notifier.json",
                          "drop.json"}
    uids = [d["uid"] for d in found.values()]
    assert len(set(uids)) == len(uids)
    for name, d in found.items():
        for p in d["panels"]:
            assert p["datasource"]["uid"] == "${datasource}", (name, p["title"])
            grid = p["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, p["title"])
    drop = found["drop.json"]
    assert [v["name"] for v in drop["templating"]["list"]] == ["datasource", "drop_id"]
    assert any("$drop_id" in e for e in dashboard_exprs(drop))


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(OBS / "build.py"), "--check"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# -- wiring ---------------------------------------------------------------------------------
def test_kubernetes_wiring() -> None:
    kust = yaml.safe_load((OBS / "kustomization.yaml").read_text())
    for res in kust["resources"]:
        assert (OBS / res).is_file(), res
    (gen,) = kust["configMapGenerator"]
    assert sorted(Path(f).name for f in gen["files"]) == sorted(dashboards())
    assert gen["options"]["labels"] == {"grafana_dashboard": "1"}
    (monitor,) = yaml.safe_load_all((OBS / "k8s" / "servicemonitor.yaml").read_text())
    assert monitor["kind"] == "ServiceMonitor"
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    assert set(monitor["spec"]["selector"]["matchExpressions"][0]["values"]) == {
        "gateway", "inventory", "orders", "notifier"}
    (rule,) = yaml.safe_load_all((OBS / "k8s" / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_kustomize_renders_the_observability_kustomization() -> None:
    result = subprocess.run(["kubectl", "kustomize", str(OBS)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "PrometheusRule", "ServiceMonitor"]
    assert all(d["metadata"]["namespace"] == "stampede" for d in docs)


def test_compose_observability_profile() -> None:
    services = compose()["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["observability"], name
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), f"{name}: {source}"
    for name, service in services.items():
        if name not in ("prometheus", "grafana"):
            assert "profiles" not in service, f"{name} would not start without the profile"
    scrape = yaml.safe_load((OBS / "prometheus" / "prometheus.yml").read_text())
    jobs = {c["job_name"]: c["dns_sd_configs"][0] for c in scrape["scrape_configs"]}
    ports = {"gateway": 8000, "notifier": 8001, "orders": 8002, "inventory": 8003}
    assert {job: c["port"] for job, c in jobs.items()} == ports
    assert {job: c["names"] for job, c in jobs.items()} == {j: [j] for j in ports}
