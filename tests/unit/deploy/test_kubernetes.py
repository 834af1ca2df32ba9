"""Static checks of the Kubernetes manifests (kustomize base and overlays): every YAML
parses, each kustomization's files exist, every Deployment has liveness (/healthz) and
readiness (/readyz) probes on its own port, requests and limits, a locked-down security
context and the environment its settings need; inventory never has more replicas than
inventory.commands has partitions; secrets are placeholders only. If ``kubectl`` is
installed, ``kubectl kustomize`` must also render every target (skipped otherwise)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .manifests import (
    BASE,
    COMPOSE_DIR,
    DEPLOY,
    DOCKER,
    K8S,
    MAX_INVENTORY_REPLICAS,
    OVERLAYS,
    PLACEHOLDER,
    PORTS,
    REQUIRED_ENV,
    SECRET_ENV,
    SERVICES,
    base_config,
    base_docs,
    deployments,
    env_keys,
    generator_literals,
    kustomization,
    load_all,
    main_container,
    of_kind,
    overlay_dirs,
    replicas_in,
    yaml_files,
)


# -- every YAML parses ---------------------------------------------------------------------
def test_deploy_tree_has_the_expected_files() -> None:
    for rel in ("docker/Dockerfile", "docker/Dockerfile.dockerignore",
                "compose/docker-compose.yml", "compose/.env.example", "README.md",
                "k8s/base/kustomization.yaml", "k8s/overlays/dev/kustomization.yaml",
                "k8s/overlays/prod/kustomization.yaml"):
        assert (DEPLOY / rel).is_file(), rel


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} is empty"
    for doc in docs:
        assert isinstance(doc, dict)


# -- Kubernetes: kustomizations ------------------------------------------------------------
def kustomization_dirs() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


@pytest.mark.parametrize("directory", kustomization_dirs(), ids=lambda p: p.name)
def test_kustomization_files_exist(directory: Path) -> None:
    kust = kustomization(directory)
    assert kust["kind"] == "Kustomization"
    for res in kust.get("resources", []):
        assert (directory / res).exists(), f"{directory}: resource {res} missing"
    for patch in kust.get("patches", []):
        if "path" in patch:
            assert (directory / patch["path"]).is_file(), f"{directory}: {patch['path']}"
    for gen in kust.get("configMapGenerator", []) + kust.get("secretGenerator", []):
        for f in gen.get("envs", []) + gen.get("files", []):
            # A secrets env file is never committed; its documented template must be.
            assert (directory / f).exists() or (directory / f"{f}.example").is_file(), (
                f"{directory}: neither {f} nor {f}.example")


def test_base_has_every_kind_it_needs() -> None:
    docs = base_docs()
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "Secret", "Deployment", "Service", "PodDisruptionBudget", "Job",
            "HorizontalPodAutoscaler"} <= kinds
    assert set(deployments()) == set(SERVICES)
    assert set(of_kind(docs, "Service")) >= set(SERVICES)


def test_overlays_are_dev_and_prod_on_top_of_base() -> None:
    names = {p.name for p in overlay_dirs()}
    assert {"dev", "prod"} <= names
    for directory in overlay_dirs():
        assert "../../base" in kustomization(directory)["resources"]


# -- Kubernetes: Deployments -----------------------------------------------------------------
@pytest.mark.parametrize("name", SERVICES)
def test_deployment_probes_on_the_right_paths_and_port(name: str) -> None:
    container = main_container(deployments()[name])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert PORTS[name] in ports.values()
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path, f"{name} {probe}"
        port = get["port"]
        assert ports.get(port, port) == PORTS[name], f"{name} {probe} port"


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_runs_the_service_on_its_port(name: str) -> None:
    container = main_container(deployments()[name])
    assert container["command"] == ["python", "-m", f"stampede_{name}"]
    env = {e["name"]: e for e in container.get("env", [])}
    assert env["HTTP_PORT"]["value"] == str(PORTS[name])
    assert base_config()["HTTP_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", SERVICES)
def test_every_container_has_requests_limits_and_a_locked_down_context(name: str) -> None:
    pod = deployments()[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod.get("terminationGracePeriodSeconds", 0) >= 10
    for container in pod["containers"] + pod.get("initContainers", []):
        res = container["resources"]
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(res[part]), f"{name}/{container['name']} {part}"
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in main_container(deployments()[name])["volumeMounts"]}
    assert "/tmp" in mounts  # writable scratch space on a read-only root filesystem


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_gets_the_environment_its_settings_require(name: str) -> None:
    container = main_container(deployments()[name])
    from_config = {ref["configMapRef"]["name"] for ref in container.get("envFrom", [])}
    assert from_config == {"stampede-config"}
    env = {e["name"]: e for e in container.get("env", [])}
    have = set(env) | set(base_config())
    missing = REQUIRED_ENV[name] - have
    assert not missing, f"{name} lacks {sorted(missing)}"
    secret = of_kind(base_docs(), "Secret")["stampede-secrets"]
    for var in SECRET_ENV & REQUIRED_ENV[name]:
        assert "value" not in env[var], f"{name}: {var} must come from the Secret"
        ref = env[var]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "stampede-secrets"
        assert ref["key"] in secret["stringData"]
    assert not SECRET_ENV & set(base_config()), "secrets in the ConfigMap"


def test_inventory_instance_id_is_the_pod_name() -> None:
    env = {e["name"]: e for e in main_container(deployments()["inventory"])["env"]}
    assert env["INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_gateway_leaves_instance_id_unique_per_process() -> None:
    # Unset: each gateway process picks a random id (replies are addressed to it).
    env = {e["name"] for e in main_container(deployments()["gateway"]).get("env", [])}
    assert "INSTANCE_ID" not in env
    assert "INSTANCE_ID" not in base_config()


def test_services_select_their_deployment() -> None:
    docs = base_docs()
    deps = of_kind(docs, "Deployment")
    for name, svc in of_kind(docs, "Service").items():
        labels = deps[name]["spec"]["template"]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= labels.items()
        assert svc["spec"]["ports"][0]["port"] == PORTS[name]
    for name, dep in deps.items():
        sel = dep["spec"]["selector"]["matchLabels"]
        assert sel.items() <= dep["spec"]["template"]["metadata"]["labels"].items(), name


def test_pod_disruption_budgets_cover_gateway_and_inventory() -> None:
    docs = base_docs()
    deps = of_kind(docs, "Deployment")
    covered = set()
    for pdb in of_kind(docs, "PodDisruptionBudget").values():
        sel = pdb["spec"]["selector"]["matchLabels"]
        for name, dep in deps.items():
            if sel.items() <= dep["spec"]["template"]["metadata"]["labels"].items():
                covered.add(name)
                spec = pdb["spec"]
                assert "minAvailable" in spec or "maxUnavailable" in spec
    assert {"gateway", "inventory"} <= covered


def test_gateway_has_at_least_two_replicas_and_an_hpa() -> None:
    assert deployments()["gateway"]["spec"]["replicas"] >= 2
    hpa = of_kind(base_docs(), "HorizontalPodAutoscaler")["gateway"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "gateway"
    assert hpa["spec"]["minReplicas"] >= 2
    for directory in overlay_dirs():
        count = replicas_in(directory, "gateway")
        assert count is None or count >= 2, directory.name


def test_inventory_replicas_never_exceed_the_commands_partitions() -> None:
    assert MAX_INVENTORY_REPLICAS == 8
    assert 1 <= deployments()["inventory"]["spec"]["replicas"] <= MAX_INVENTORY_REPLICAS
    for directory in overlay_dirs():
        count = replicas_in(directory, "inventory")
        assert count is None or 1 <= count <= MAX_INVENTORY_REPLICAS, directory.name
    assert not any(h["spec"]["scaleTargetRef"]["name"] == "inventory"
                   for h in of_kind(base_docs(), "HorizontalPodAutoscaler").values())
    # The reason is written next to the number.
    assert "partition" in (BASE / "inventory.yaml").read_text()


def test_prod_overlay_scales_up_and_keeps_dev_mode_off() -> None:
    prod = OVERLAYS / "prod"
    assert base_config()["DEV_MODE"] == "false"
    for directory in overlay_dirs():
        lits = generator_literals(kustomization(directory), "stampede-config")
        assert lits.get("DEV_MODE", "false") == "false", directory.name
    assert generator_literals(kustomization(prod), "stampede-config")["DEV_MODE"] == "false"
    for name in SERVICES:
        base_count = deployments()[name]["spec"]["replicas"]
        assert (replicas_in(prod, name) or base_count) >= base_count, name
    assert (replicas_in(prod, "gateway") or 0) > deployments()["gateway"]["spec"]["replicas"]


def test_topics_job_creates_topics_from_the_service_image() -> None:
    job = of_kind(base_docs(), "Job")["stampede-topics"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in {"OnFailure", "Never"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"] == "stampede"
    assert container["command"] == ["python", "/app/bin/create_topics.py"]
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert "/app/bin/" in (DOCKER / "Dockerfile").read_text()


# -- secrets ------------------------------------------------------------------------------
def test_k8s_secret_values_are_placeholders() -> None:
    secret = of_kind(base_docs(), "Secret")["stampede-secrets"]
    assert "data" not in secret  # base64 would hide what is in it
    values = secret["stringData"]
    assert set(values) == {"DATABASE_URL", "ADMIN_USERNAME", "ADMIN_PASSWORD", "JWT_SECRET",
                           "TICKET_SECRET", "ORDERS_SERVICE_TOKEN"}
    for key in SECRET_ENV:
        assert PLACEHOLDER in values[key], f"{key} is not a clearly-marked placeholder"
    assert "TEMPLATE" in (BASE / "secret.yaml").read_text()


def test_no_secret_values_anywhere_in_yaml() -> None:
    for path in yaml_files():
        for doc in load_all(path):
            if doc.get("kind") == "Secret":
                for value in (doc.get("stringData") or {}).values():
                    if value not in {"admin"}:
                        assert PLACEHOLDER in value, f"{path}: {value!r}"
                assert not doc.get("data"), f"{path}: base64 secret data committed"
    # Literal secret values in any env list (k8s) are forbidden too.
    for dep in deployments().values():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            for e in c.get("env", []):
                assert not (e["name"] in SECRET_ENV and "value" in e), e["name"]


def test_example_env_files_hold_only_placeholders_and_real_ones_are_ignored() -> None:
    examples = [COMPOSE_DIR / ".env.example",
                *(d / "secrets.env.example" for d in overlay_dirs())]
    for example in examples:
        values = env_keys(example)
        for key in SECRET_ENV | {"POSTGRES_PASSWORD"}:
            if key in values:
                assert PLACEHOLDER in values[key], f"{example}: {key}"
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert "compose/.env" in ignored
    assert "k8s/overlays/*/secrets.env" in ignored


@pytest.mark.parametrize("directory", overlay_dirs(), ids=lambda p: p.name)
def test_overlays_replace_the_placeholder_secret(directory: Path) -> None:
    gens = {g["name"]: g for g in kustomization(directory).get("secretGenerator", [])}
    gen = gens["stampede-secrets"]
    assert gen["behavior"] == "replace"
    assert gen["envs"] == ["secrets.env"]
    keys = set(env_keys(directory / "secrets.env.example"))
    assert keys == set(of_kind(base_docs(), "Secret")["stampede-secrets"]["stringData"])




def test_every_kafka_client_may_get_the_sasl_password_and_only_the_job_is_strict() -> None:
    job = of_kind(base_docs(), "Job")["stampede-topics"]["spec"]["template"]["spec"]
    pods = [dep["spec"]["template"]["spec"] for dep in deployments().values()] + [job]
    for pod in pods:
        for container in pod["containers"] + pod.get("initContainers", []):
            env = {e["name"]: e for e in container.get("env", [])}
            ref = env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "stampede-secrets", "key": "KAFKA_SASL_PASSWORD",
                           "optional": True}, container["name"]
            strict = env.get("TOPICS_STRICT", {}).get("value", "true")
            assert strict == ("false" if container in pod.get("initContainers", []) else "true")


# -- network policies ---------------------------------------------------------------------
def _policies() -> dict[str, dict]:
    return of_kind(base_docs(), "NetworkPolicy")


def _admits(policy: dict, name: str) -> bool:
    selector = policy["spec"]["podSelector"]
    return not selector or selector.get("matchLabels") == {"app.kubernetes.io/name": name}


def test_every_pod_is_closed_to_ingress_but_what_a_policy_opens() -> None:
    deny = _policies()["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny


def test_only_the_gateway_reaches_orders_api() -> None:
    opening = [p for p in _policies().values() if "Ingress" in p["spec"]["policyTypes"]
               and p["spec"].get("ingress") and _admits(p, "orders")]
    assert [p["metadata"]["name"] for p in opening] == ["orders-api-from-gateway"]
    peers = [peer for rule in opening[0]["spec"]["ingress"] for peer in rule["from"]]
    pods = [p["podSelector"] for p in peers if "podSelector" in p]
    assert pods == [{"matchLabels": {"app.kubernetes.io/name": "gateway"}}]
    # anything else is a namespace the scraper runs in (its calls get 401 without the token)
    others = [p for p in peers if "podSelector" not in p]
    assert all(p["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"} for p in others)
    for rule in opening[0]["spec"]["ingress"]:
        assert rule["ports"] == [{"protocol": "TCP", "port": PORTS["orders"]}]


def test_only_the_public_services_are_open_to_all() -> None:
    open_to_all = set()
    for policy in _policies().values():
        for rule in policy["spec"].get("ingress", []):
            if "from" not in rule:  # from anywhere
                name = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                open_to_all.add(name)
                assert rule["ports"] == [{"protocol": "TCP", "port": PORTS[name]}]
    assert open_to_all == {"gateway", "notifier"}


def test_the_services_egress_only_to_kafka_postgres_dns_and_each_other() -> None:
    egress = _policies()["stampede-egress"]["spec"]
    assert egress["podSelector"] == {} and egress["policyTypes"] == ["Egress"]
    allowed = {(p["port"], tuple(sorted(str(peer) for peer in rule.get("to", []))))
               for rule in egress["egress"] for p in rule["ports"]}
    ports = {port for port, _ in allowed}
    assert ports == {53, 9092, 9093, 5432, PORTS["orders"], 4317, 4318}
    kafka = {peers for port, peers in allowed if port in (9092, 9093)}
    assert kafka == {(str({"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "kafka"}}}),)}
    postgres = {peers for port, peers in allowed if port == 5432}
    assert postgres == {(str({"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "databases"}}}),)}


# -- optional: render with kubectl kustomize when it is installed ---------------------------
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("target", ["base", "overlays/dev", "overlays/prod"])
def test_kubectl_kustomize_renders(target: str, tmp_path: Path) -> None:
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("secrets.env"))
    for example in (tree / "overlays").glob("*/secrets.env.example"):
        (example.parent / "secrets.env").write_text(example.read_text())
    result = subprocess.run(
        ["kubectl", "kustomize", str(tree / target)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    deps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deps) == set(SERVICES)
    assert deps["inventory"]["spec"]["replicas"] <= MAX_INVENTORY_REPLICAS
    for d in docs:
        if d["kind"] != "Namespace":
            assert d["metadata"]["namespace"].startswith("stampede")
    policies = {d["metadata"]["name"] for d in docs if d["kind"] == "NetworkPolicy"}
    assert {"default-deny-ingress", "orders-api-from-gateway", "stampede-egress"} <= policies
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    (secret,) = [d for d in docs if d["kind"] == "Secret"]
    assert secret["metadata"]["name"] == "stampede-secrets"  # what the pods reference
    assert config["data"]["DEV_MODE"] == "false"
    for dep in deps.values():
        pod = dep["spec"]["template"]["spec"]
        refs = [r["configMapRef"]["name"] for c in pod["containers"] for r in c["envFrom"]]
        assert refs == [config["metadata"]["name"]]  # the generated (hashed) name
        image = pod["containers"][0]["image"]
        assert "/" in image and ":" in image, image


def test_notifier_scales_with_no_affinity() -> None:
    """Every notifier replica reads every event and numbers messages alike (clients
    resume by seq on any replica), so it runs several, with no session affinity."""
    assert deployments()["notifier"]["spec"]["replicas"] >= 2
    service = of_kind(base_docs(), "Service")["notifier"]
    assert service["spec"].get("sessionAffinity", "None") == "None"
    assert "resumes by seq" in (BASE / "notifier.yaml").read_text()
