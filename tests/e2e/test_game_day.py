"""Game days against a cluster kube-chaos did not build, on workloads it did not deploy.

A second, small kind cluster stands in for staging: provisioned by kube-chaos, then stripped of
its marker; its workloads (a Deployment and a StatefulSet, each behind a NodePort Service) are
deployed with kubectl. Load goes to a staging URL on a host the test allows: the staging
worker's own container address (a kind container, never anything else).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from test_faults_helpers import Cluster, kubectl

from chaos.cluster import kind, kindload
from chaos.cluster.config import ClusterConfig, PortMapping
from chaos.cluster.workload_image import build_httpd
from chaos.engine.runner import RunEnv, run_experiment
from chaos.errors import SafetyRefused
from chaos.journal.audit import read_audit
from chaos.journal.store import Journal
from chaos.k8s.client import connect
from chaos.k8s.health import MARKER_NAME, MARKER_NAMESPACE
from chaos.model.parse import parse_experiment

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(900)]

NAME = "kc-staging"
STAGING = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway,
           labelSelector: {matchLabels: {app: web}}}
      containers:
        - name: web
          image: kube-chaos/httpd:dev
          imagePullPolicy: Never
          args: ["--addr=:8080"]
          readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 3
  serviceName: db-headless
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 5
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway,
           labelSelector: {matchLabels: {app: db}}}
      containers:
        - name: db
          image: kube-chaos/httpd:dev
          imagePullPolicy: Never
          args: ["--addr=:8080"]
          readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: db-headless, namespace: shop}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  type: NodePort
  selector: {app: db}
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
"""


@dataclass(frozen=True)
class Staging:
    cluster: Cluster
    worker_ip: str  # the staging worker container: where its NodePorts answer

    def url(self, node_port: int) -> str:
        return f"http://{self.worker_ip}:{node_port}"


@pytest.fixture(scope="module")
def staging() -> Iterator[Staging]:
    ports = tuple(PortMapping(p + 100, p) for p in range(30080, 30090))  # beside the main one
    cfg = ClusterConfig(name=NAME, workers=2, ports=ports)
    info = kind.up(cfg)
    try:
        cluster = Cluster(str(info.kubeconfig), info.context, NAME,
                          connect(info.kubeconfig, info.context))
        # staging is not ours: no marker, and its workloads arrive by kubectl
        kubectl(cluster, "-n", MARKER_NAMESPACE, "delete", "configmap", MARKER_NAME,
                "--ignore-not-found")
        kindload.ensure_loaded(cfg, build_httpd())  # stands in for the team's registry
        kubectl(cluster, "apply", "-f", "-", stdin=STAGING)
        kubectl(cluster, "-n", "shop", "rollout", "status", "deployment/web", "--timeout=180s",
                timeout=200)
        kubectl(cluster, "-n", "shop", "rollout", "status", "statefulset/db", "--timeout=180s",
                timeout=200)
        ip = subprocess.run(
            ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}"
             "{{end}}", f"{NAME}-worker"], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert ip, "the staging worker has no address on the kind network"
        yield Staging(cluster, ip)
    finally:
        kind.down(cfg)


def _env(staging: Staging, tmp_path: Path, *, allow: bool = True) -> RunEnv:
    c = staging.cluster
    return RunEnv(kube=c.kube, kubeconfig=c.kubeconfig, run_id="gameday", seed=3,
                  reports_dir=tmp_path / "reports", cluster_name=None,
                  journal=Journal(tmp_path / "journal.jsonl"),
                  allow_contexts=(c.context,) if allow else (),
                  allow_hosts=(staging.worker_ip,))


def _experiment(staging: Staging, tmp_path: Path, *, kind_: str, name: str, app: str,
                node_port: int, fault: str, slas: str) -> Any:
    text = textwrap.dedent(f"""\
        apiVersion: kube-chaos/v1
        kind: Experiment
        metadata: {{name: gameday-{app}}}
        spec:
          workload:
            existing: {{namespace: shop, kind: {kind_}, name: {name}}}
            selector: {{app: {app}}}
            service: {app}
            replicas: 3
          load: {{url: "{staging.url(node_port)}", path: /, users: 5, spawnRate: 5, warmup: 4s,
                  tail: 5s, maxDuration: 150s, wait: 20ms, keepAlive: false}}
          steadyState: {{maxErrorRate: 0.0, window: 2s}}
          faults:
            - {fault}
          slas: {slas}
          timeout: 240s
        """)
    path = tmp_path / f"gameday-{app}.yaml"
    path.write_text(text)
    return parse_experiment(text, path)


def _inventory(staging: Staging) -> dict[str, Any]:
    """Everything a game day must leave alone: namespaces, and the shop's objects by name, UID
    and generation (spec changes), pods excepted (faults replace those)."""
    namespaces = json.loads(kubectl(staging.cluster, "get", "namespaces", "-o", "json"))
    out: dict[str, Any] = {"namespaces": sorted(i["metadata"]["name"]
                                                for i in namespaces["items"])}
    for kind_ in ("deployments", "statefulsets", "services", "configmaps", "poddisruptionbudgets",
                  "roles", "serviceaccounts"):
        items = json.loads(kubectl(staging.cluster, "-n", "shop", "get", kind_, "-o",
                                   "json"))["items"]
        out[kind_] = sorted((i["metadata"]["name"], i["metadata"]["uid"],
                             i["metadata"].get("generation")) for i in items)
    return out


def _ready(staging: Staging, app: str) -> int:
    pods = json.loads(kubectl(staging.cluster, "-n", "shop", "get", "pods", "-l", f"app={app}",
                              "-o", "json"))["items"]
    return sum(1 for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                      for c in p["status"].get("conditions", [])))


def test_without_allow_context_every_entry_point_refuses(staging: Staging,
                                                         tmp_path: Path) -> None:
    exp = _experiment(staging, tmp_path, kind_="Deployment", name="web", app="web",
                      node_port=30080, fault="{type: pod-kill, count: 1}",
                      slas="{maxErrorRate: 0.05}")
    before = _inventory(staging)
    with pytest.raises(SafetyRefused, match="no kube-system/kube-chaos-cluster marker"):
        run_experiment(exp, _env(staging, tmp_path, allow=False))
    # a hand-made marker proves nothing
    kubectl(staging.cluster, "-n", MARKER_NAMESPACE, "create", "configmap", MARKER_NAME,
            "--from-literal=cluster=kube-chaos")
    try:
        with pytest.raises(SafetyRefused, match="marker does not match this cluster"):
            run_experiment(exp, _env(staging, tmp_path, allow=False))
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "chaos", str(exp.path), "-p",
             "no:cacheprovider", f"--chaos-kubeconfig={staging.cluster.kubeconfig}",
             f"--chaos-context={staging.cluster.context}",
             f"--chaos-allow-host={staging.worker_ip}", f"--rootdir={tmp_path}"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 1, proc.stdout[-3000:]
        assert "refusing to inject faults into context" in proc.stdout
        assert "Traceback" not in proc.stdout
    finally:
        kubectl(staging.cluster, "-n", MARKER_NAMESPACE, "delete", "configmap", MARKER_NAME)
    assert _inventory(staging) == before
    assert _ready(staging, "web") == 3


@pytest.mark.parametrize(("kind_", "name", "app", "port"), [
    ("Deployment", "web", "web", 30080), ("StatefulSet", "db", "db", 30081)])
def test_pod_kill_game_day_on_an_existing_workload(staging: Staging, tmp_path: Path, kind_: str,
                                                   name: str, app: str, port: int) -> None:
    exp = _experiment(staging, tmp_path, kind_=kind_, name=name, app=app, node_port=port,
                      fault="{type: pod-kill, count: 1, gracePeriod: 0}",
                      slas="{maxErrorRate: 0.05, maxRecovery: 60s, steadyStateRestored: true}")
    before = _inventory(staging)
    result = run_experiment(exp, _env(staging, tmp_path))
    assert result.verdict == "pass", (result.error, [(s.name, s.observed) for s in result.slas])
    assert result.namespace == "shop"
    assert _inventory(staging) == before  # created, changed and deleted nothing but the pod
    [outcome] = result.faults
    [victim] = outcome.targets
    assert victim.startswith(f"{name}-")
    report = json.loads(Path(result.report_path).read_text())
    assert report["cluster"]["namespace"] == "shop"
    trail = read_audit(Path(result.report_path).parent / "audit.jsonl")
    assert trail[0]["context"] == staging.cluster.context
    assert any(e["event"] == "fault-start" and e["target"] == victim for e in trail)
    events = json.loads(kubectl(staging.cluster, "-n", "shop", "get", "events",
                                "--field-selector", "reason=KubeChaosFault", "-o", "json"))
    assert victim in {e["involvedObject"]["name"] for e in events["items"]}


def test_drain_game_day_on_an_existing_statefulset(staging: Staging, tmp_path: Path) -> None:
    exp = _experiment(staging, tmp_path, kind_="StatefulSet", name="db", app="db",
                      node_port=30081, fault="{type: drain, podsOf: {app: db}, timeout: 90s}",
                      slas="{maxErrorRate: 0.2, maxRecovery: 120s, expectBlocked: false}")
    exp = replace(exp, load=replace(exp.load, url=staging.url(30081)))
    before = _inventory(staging)
    result = run_experiment(exp, _env(staging, tmp_path))
    assert result.verdict == "pass", (result.error, [(s.name, s.observed) for s in result.slas])
    assert _inventory(staging) == before
    nodes = json.loads(kubectl(staging.cluster, "get", "nodes", "-o", "json"))["items"]
    assert not any(n["spec"].get("unschedulable") for n in nodes), "drained node left cordoned"
    assert result.undo_failures == []


def test_plan_lists_what_the_run_hits_and_a_changed_cluster_is_refused(
        staging: Staging, tmp_path: Path) -> None:
    from chaos.engine.preview import plan_document, plan_experiment

    exp = _experiment(staging, tmp_path, kind_="Deployment", name="web", app="web",
                      node_port=30080, fault="{type: pod-kill, count: 1, gracePeriod: 0}",
                      slas="{maxErrorRate: 0.05, maxRecovery: 60s}")
    env = _env(staging, tmp_path)
    plan = plan_experiment(exp, staging.cluster.kube, seed=17,
                           allow_contexts=env.allow_contexts, allow_hosts=env.allow_hosts)
    assert plan.problems == () and plan.missing_permissions == ()
    [planned] = plan.faults
    assert planned.targets and len(planned.targets) == 1 and len(planned.candidates or ()) == 3
    env.plan = plan_document([plan])
    result = run_experiment(exp, env)
    assert result.verdict == "pass", result.error
    assert tuple(result.faults[0].targets) == planned.targets  # exactly what was reviewed

    # the cluster changes after the review: the run refuses and changes nothing
    again = plan_experiment(exp, staging.cluster.kube, seed=17,
                            allow_contexts=env.allow_contexts, allow_hosts=env.allow_hosts)
    env.plan = plan_document([again])
    kubectl(staging.cluster, "-n", "shop", "scale", "deployment/web", "--replicas=4")
    try:
        kubectl(staging.cluster, "-n", "shop", "rollout", "status", "deployment/web",
                "--timeout=120s", timeout=150)
        before = _inventory(staging)
        with pytest.raises(SafetyRefused, match=r"differs from the reviewed one.*candidates"):
            run_experiment(exp, env)
        assert _inventory(staging) == before
    finally:
        kubectl(staging.cluster, "-n", "shop", "scale", "deployment/web", "--replicas=3")
        kubectl(staging.cluster, "-n", "shop", "rollout", "status", "deployment/web",
                "--timeout=120s", timeout=150)


def test_the_documented_plan_then_run_from_a_relative_folder_passes_the_gate(
        staging: Staging, tmp_path: Path) -> None:
    """docs/experiments.md's game day, as a user types it: `kube-chaos plan gd/ ...` writes
    plan.json, then `kube-chaos run gd/ ... --plan plan.json` from the same directory. The run
    sees the file by its absolute path; the plan must still match (issue 18: it was refused,
    "file: reviewed 'gd/x.yaml', now '/.../gd/x.yaml'"). An edited file is refused."""
    exp = _experiment(staging, tmp_path, kind_="Deployment", name="web", app="web",
                      node_port=30080, fault="{type: pod-kill, count: 1, gracePeriod: 0}",
                      slas="{maxErrorRate: 0.05, maxRecovery: 60s}")
    gd = tmp_path / "gd"
    gd.mkdir()
    (gd / "x.yaml").write_text(exp.path.read_text())
    exp.path.unlink()
    c = staging.cluster
    # the docs' options; --kubeconfig because staging is not this machine's default cluster
    target = ["--kubeconfig", c.kubeconfig, "--context", c.context, "--allow-context", c.context,
              "--allow-host", staging.worker_ip]
    kube_chaos = [sys.executable, "-m", "chaos.cli"]

    planned = subprocess.run([*kube_chaos, "plan", "gd/", *target, "--seed", "42"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=180,
                             check=False)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    doc = json.loads((tmp_path / "plan.json").read_text())
    [entry] = doc["experiments"]
    assert entry["file"] == str((gd / "x.yaml").resolve()) and entry["seed"] == 42

    before = _inventory(staging)
    ran = subprocess.run([*kube_chaos, "run", "gd/", *target, "--plan", "plan.json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         check=False)
    out = ran.stdout + ran.stderr
    assert "differs from the reviewed one" not in out, out[-3000:]
    assert ran.returncode == 0, out[-3000:]
    assert "1 passed" in ran.stdout
    [report_path] = (tmp_path / "reports").rglob("report.json")
    report = json.loads(report_path.read_text())
    assert report["verdict"] == "pass" and report["seed"] == 42  # the reviewed plan's seed
    assert _inventory(staging) == before

    # the file changes after the review: the same command refuses and injects nothing
    (gd / "x.yaml").write_text((gd / "x.yaml").read_text() + "# edited after the review\n")
    pods = kubectl(c, "-n", "shop", "get", "pods", "-o", "name")
    refused = subprocess.run([*kube_chaos, "run", "gd/", *target, "--plan", "plan.json",
                              "--reports", "reports-2"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=300, check=False)
    assert refused.returncode != 0, refused.stdout[-3000:]
    assert "differs from the reviewed one" in refused.stdout
    assert "file_sha256" in refused.stdout and "Traceback" not in refused.stdout
    assert kubectl(c, "-n", "shop", "get", "pods", "-o", "name") == pods
    assert _inventory(staging) == before


def test_blast_radius_and_protected_namespaces_are_refused_at_plan_time(
        staging: Staging, tmp_path: Path) -> None:
    from chaos.engine.preview import plan_experiment

    env = _env(staging, tmp_path)
    exp = _experiment(staging, tmp_path, kind_="Deployment", name="web", app="web",
                      node_port=30080, fault="{type: pod-kill, percent: 60}",
                      slas="{maxErrorRate: 0.05}")
    exp = replace(exp, blast_radius=replace(exp.blast_radius, max_percent=40))
    plan = plan_experiment(exp, staging.cluster.kube, seed=1, allow_contexts=env.allow_contexts,
                           allow_hosts=env.allow_hosts)
    assert any("would hit 2 of 3 pods (67 %); the blast radius allows 40 %" in p
               for p in plan.problems), plan.problems
    cli = subprocess.run(
        [sys.executable, "-m", "chaos.cli", "plan", str(exp.path), "--kubeconfig",
         staging.cluster.kubeconfig, "--context", staging.cluster.context, "--allow-context",
         staging.cluster.context, "--allow-host", staging.worker_ip, "--max-pods", "1",
         "-o", str(tmp_path / "plan.json")], capture_output=True, text=True, timeout=120,
        check=False)
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert "the blast radius allows 1" in cli.stdout

    kubectl(staging.cluster, "label", "namespace", "shop", "kube-chaos.io/protected=true")
    try:
        plan = plan_experiment(exp, staging.cluster.kube, seed=1,
                               allow_contexts=env.allow_contexts, allow_hosts=env.allow_hosts)
        assert any("labelled kube-chaos.io/protected=true" in p for p in plan.problems)
        before = _inventory(staging)
        refused = run_experiment(replace(exp, blast_radius=replace(exp.blast_radius,
                                                                   max_percent=None)), env)
        assert refused.verdict == "error" and "namespace shop is protected" in (
            refused.error or "")
        assert refused.faults == [] and _inventory(staging) == before
    finally:
        kubectl(staging.cluster, "label", "namespace", "shop", "kube-chaos.io/protected-")


def test_the_rbac_output_is_sufficient_and_every_rule_is_needed(staging: Staging,
                                                                 tmp_path: Path) -> None:
    """A ServiceAccount bound to exactly `kube-chaos rbac`'s roles runs the game day; with one
    rule removed, `plan` names the missing permission and nothing is injected."""
    import base64

    import yaml as pyyaml

    from chaos.engine.preview import plan_experiment

    exp = _experiment(staging, tmp_path, kind_="Deployment", name="web", app="web",
                      node_port=30080, fault="{type: pod-kill, count: 1, gracePeriod: 0}",
                      slas="{maxErrorRate: 0.05, maxRecovery: 60s}")
    roles = subprocess.run([sys.executable, "-m", "chaos.cli", "rbac", str(exp.path), "--name",
                            "gameday"], capture_output=True, text=True, check=True).stdout
    c = staging.cluster
    kubectl(c, "apply", "-f", "-", stdin=roles)
    kubectl(c, "-n", "shop", "create", "serviceaccount", "gameday")
    role_namespaces = [d["metadata"]["namespace"] for d in pyyaml.safe_load_all(roles)
                       if d["kind"] == "Role"]
    assert "shop" in role_namespaces
    for ns in role_namespaces:  # one Role per namespace: each needs its binding
        kubectl(c, "-n", ns, "create", "rolebinding", "gameday", "--role=gameday",
                "--serviceaccount=shop:gameday")
    kubectl(c, "create", "clusterrolebinding", "gameday", "--clusterrole=gameday",
            "--serviceaccount=shop:gameday")
    try:
        token = kubectl(c, "-n", "shop", "create", "token", "gameday").strip()
        admin = pyyaml.safe_load(Path(c.kubeconfig).read_text())
        server = admin["clusters"][0]["cluster"]
        sa_config = tmp_path / "gameday.kubeconfig"
        sa_config.write_text(pyyaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "gameday",
            "clusters": [{"name": "staging", "cluster": server}],
            "users": [{"name": "gameday", "user": {"token": token}}],
            "contexts": [{"name": "gameday", "context": {"cluster": "staging",
                                                         "user": "gameday"}}]}))
        assert base64.b64decode(server["certificate-authority-data"])  # verified TLS
        kube = connect(sa_config, "gameday")
        env = replace(_env(staging, tmp_path), kube=kube, kubeconfig=str(sa_config),
                      allow_contexts=("gameday",))
        plan = plan_experiment(exp, kube, seed=5, allow_contexts=("gameday",),
                               allow_hosts=env.allow_hosts)
        assert plan.missing_permissions == () and plan.problems == ()
        result = run_experiment(exp, env)
        assert result.verdict == "pass", result.error

        role = json.loads(kubectl(c, "-n", "shop", "get", "role", "gameday", "-o", "json"))
        role["rules"] = [r for r in role["rules"] if not (
            r["resources"] == ["pods"] and "delete" in r["verbs"])] + [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
        kubectl(c, "replace", "-f", "-", stdin=json.dumps(role))
        before = _inventory(staging)
        pods_before = kubectl(c, "-n", "shop", "get", "pods", "-o", "name")
        plan = plan_experiment(exp, kube, seed=5, allow_contexts=("gameday",),
                               allow_hosts=env.allow_hosts)
        assert "delete pods in namespace shop" in plan.missing_permissions
        assert any("missing permission: delete pods in namespace shop" in p
                   for p in plan.problems)
        assert _inventory(staging) == before
        assert kubectl(c, "-n", "shop", "get", "pods", "-o", "name") == pods_before
    finally:
        kubectl(c, "delete", "clusterrolebinding", "gameday", "--ignore-not-found")
        kubectl(c, "delete", "clusterrole", "gameday", "--ignore-not-found")
        for ns in ("shop", "kube-system"):
            kubectl(c, "-n", ns, "delete", "rolebinding,role", "gameday", "--ignore-not-found")
        kubectl(c, "-n", "shop", "delete", "serviceaccount", "gameday", "--ignore-not-found")
