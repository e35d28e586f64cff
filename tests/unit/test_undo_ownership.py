"""Issue 18, item 2: rollback deletes only what kube-chaos made, on a cluster it may touch.

delete-namespace and delete-object replayed from a journal (which anyone with the user's rights
can write) used to act on whatever the record named: kube-system, a namespace or object of
someone else's, through the default kubeconfig when the target was empty, on any cluster. Now
a protected namespace, a missing ownership label or an empty target is refused, a replay passes
the safety gate (honouring `kube-chaos rollback --allow-context`), and a refused undo stays
pending with its reason. The real handlers and chaos.k8s helpers run against a fake API server.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError

from chaos.cli import rollback as cli_rollback
from chaos.errors import RollbackFailed
from chaos.faults import undo
from chaos.journal.store import Journal, UndoAction, read_journal
from chaos.k8s import objects as kobjects
from chaos.k8s import workload as kw
from chaos.model.experiment import PROTECTED_LABEL

TARGET = {"kubeconfig": "/home/u/.kube/kind", "context": "kind-x", "cluster": "x"}
OURS = {kw.MANAGED_BY: "kube-chaos", kw.RUN_LABEL: "run-1"}


def _missing() -> ApiException:
    return ApiException(status=404, reason="Not Found")


class Core:
    """Namespaces (name -> labels) and the calls that change them."""

    def __init__(self, namespaces: dict[str, dict[str, str]]) -> None:
        self.namespaces = namespaces
        self.deleted: list[str] = []

    def read_namespace(self, name: str) -> Any:
        if name not in self.namespaces:
            raise _missing()
        return SimpleNamespace(metadata=SimpleNamespace(
            name=name, labels=dict(self.namespaces[name]), deletion_timestamp=None,
            uid=f"uid-{name}"))

    def list_namespaced_service(self, namespace: str) -> Any:
        return SimpleNamespace(items=[])

    def delete_namespace(self, name: str, grace_period_seconds: int = 0) -> None:
        self.deleted.append(name)
        self.namespaces.pop(name, None)

    def read_namespaced_config_map(self, name: str, namespace: str) -> Any:
        raise _missing()  # no kube-chaos marker: this cluster is not one kube-chaos made


class Resource:
    """One kind's objects for the dynamic client: (namespace, name) -> labels."""

    def __init__(self, objects: dict[tuple[str | None, str], dict[str, str]]) -> None:
        self.objects = objects
        self.deleted: list[tuple[str | None, str]] = []

    def get(self, name: str, namespace: str | None = None) -> Any:
        if (namespace, name) not in self.objects:
            raise NotFoundError(_missing())
        return SimpleNamespace(metadata={"labels": dict(self.objects[namespace, name])})

    def delete(self, name: str, namespace: str | None = None) -> None:
        self.deleted.append((namespace, name))
        self.objects.pop((namespace, name), None)


class Cluster:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.core = Core({"kube-system": {}, "kc-web-1a2b3c": dict(OURS),
                          "someones-app": {"team": "payments"},
                          "kc-guarded": {**OURS, PROTECTED_LABEL: "true"}})
        self.resource = Resource({(None, "kc-role"): {kw.MANAGED_BY: "kube-chaos"},
                                  (None, "cluster-admin"): {},
                                  (None, "kc-guarded-role"): {kw.MANAGED_BY: "kube-chaos",
                                                              PROTECTED_LABEL: "true"},
                                  ("kube-system", "coredns"): {kw.MANAGED_BY: "kube-chaos"},
                                  ("kc-web-1a2b3c", "worker-0"): {kw.MANAGED_BY: "kube-chaos"},
                                  ("kc-web-1a2b3c", "web-0"): {}})
        self.connected: list[tuple[str | None, str | None]] = []
        monkeypatch.setattr(undo, "connect", self.connect)
        monkeypatch.setattr(kobjects, "_resource", lambda kube, api_version, kind:
                            self.resource)

    def connect(self, kubeconfig: str | None, context: str | None) -> Any:
        self.connected.append((kubeconfig, context))
        return SimpleNamespace(core=self.core, context=context, api=SimpleNamespace(
            configuration=SimpleNamespace(host="https://10.0.0.1:6443")))


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    return Cluster(monkeypatch)


def ns_action(name: str, target: dict[str, str] | None = None) -> UndoAction:
    return UndoAction("delete-namespace", {"namespace": name},
                      target=dict(TARGET if target is None else target, namespace=name),
                      created=1.0)


def obj_action(name: str, namespace: str = "", kind: str = "ClusterRole",
               target: dict[str, str] | None = None) -> UndoAction:
    params = {"api_version": "rbac.authorization.k8s.io/v1", "kind": kind, "name": name}
    if namespace:
        params["namespace"] = namespace
    return UndoAction("delete-object", params, target=TARGET if target is None else target,
                      created=2.0)


# --- delete-namespace ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["kube-system", "kube-public", "kube-node-lease"])
def test_a_protected_namespace_is_never_deleted(cluster: Cluster, name: str) -> None:
    cluster.core.namespaces[name] = dict(OURS)  # even carrying our labels
    with pytest.raises(RollbackFailed, match=f"namespace {name} is protected"):
        undo.run_undo(ns_action(name))
    assert cluster.core.deleted == [] and cluster.connected == []  # refused before connecting


def test_a_namespace_labelled_protected_is_never_deleted(cluster: Cluster) -> None:
    with pytest.raises(RollbackFailed, match=f"namespace kc-guarded is labelled "
                                             f"{PROTECTED_LABEL}=true"):
        undo.run_undo(ns_action("kc-guarded"))
    assert cluster.core.deleted == []


def test_a_namespace_without_the_run_label_is_not_ours(cluster: Cluster) -> None:
    with pytest.raises(RollbackFailed) as info:
        undo.run_undo(ns_action("someones-app"))
    assert str(info.value) == ("delete-namespace(namespace=someones-app): namespace someones-app "
                               "has no kube-chaos/run label: kube-chaos did not create it, and "
                               "will not delete it")
    assert cluster.core.deleted == [] and "someones-app" in cluster.core.namespaces


def test_a_namespace_kube_chaos_created_is_deleted(cluster: Cluster) -> None:
    assert undo.run_undo(ns_action("kc-web-1a2b3c")) is None
    assert cluster.core.deleted == ["kc-web-1a2b3c"]
    assert cluster.connected == [(TARGET["kubeconfig"], "kind-x")]
    assert undo.run_undo(ns_action("kc-web-1a2b3c")) == "already gone"


def test_create_namespace_sets_the_label_rollback_requires() -> None:
    made: list[Any] = []
    kube = SimpleNamespace(core=SimpleNamespace(create_namespace=made.append))
    kw.create_namespace(kube, "kc-web-1a2b3c", "run-1")  # type: ignore[arg-type]
    assert made[0].metadata.labels == {kw.MANAGED_BY: "kube-chaos", kw.RUN_LABEL: "run-1"}


# --- delete-object -------------------------------------------------------------------------------


def test_an_object_without_the_ownership_label_is_not_deleted(cluster: Cluster) -> None:
    with pytest.raises(RollbackFailed, match=r"ClusterRole cluster-admin is not labelled "
                                             r"app\.kubernetes\.io/managed-by=kube-chaos"):
        undo.run_undo(obj_action("cluster-admin"))
    with pytest.raises(RollbackFailed, match="Pod web-0 is not labelled"):
        undo.run_undo(obj_action("web-0", "kc-web-1a2b3c", kind="Pod"))
    assert cluster.resource.deleted == []


@pytest.mark.parametrize(("name", "namespace", "kind", "reason"), [
    ("coredns", "kube-system", "Pod", "namespace kube-system is protected"),
    ("kube-system", "", "Namespace", "namespace kube-system is protected"),
    ("kc-guarded-role", "", "ClusterRole", f"ClusterRole kc-guarded-role is labelled "
                                           f"{PROTECTED_LABEL}=true"),
])
def test_an_object_in_or_of_a_protected_namespace_is_not_deleted(
        cluster: Cluster, name: str, namespace: str, kind: str, reason: str) -> None:
    with pytest.raises(RollbackFailed, match=reason):
        undo.run_undo(obj_action(name, namespace, kind=kind))
    assert cluster.resource.deleted == []


def test_objects_kube_chaos_created_are_deleted(cluster: Cluster) -> None:
    assert undo.run_undo(obj_action("kc-role")) is None
    assert undo.run_undo(obj_action("worker-0", "kc-web-1a2b3c", kind="Pod")) is None
    assert cluster.resource.deleted == [(None, "kc-role"), ("kc-web-1a2b3c", "worker-0")]
    assert undo.run_undo(obj_action("kc-role")) == "already gone"


def test_cluster_scoped_manifests_get_the_ownership_label_at_apply_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[dict[str, Any]] = []
    monkeypatch.setattr(kw, "_create_retrying_ports", lambda kube, doc, ns: created.append(doc))
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "kc-role", "labels": {kw.MANAGED_BY: "helm", "a": "b"}}}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    docs = kw.apply_documents(None, "kc-web", [(Path("m.yaml"), role),  # type: ignore[arg-type]
                                               (Path("m.yaml"), deploy)])
    assert created == docs
    assert created[0]["metadata"]["labels"] == {kw.MANAGED_BY: "kube-chaos", "a": "b"}
    assert created[1] == deploy  # namespaced: its namespace is ours already
    assert role["metadata"]["labels"][kw.MANAGED_BY] == "helm"  # the manifest is not mutated


# --- the target ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [{}, {"kubeconfig": "", "context": ""},
                                    {"context": "kind-x"}, {"kubeconfig": "/k"}])
def test_an_empty_target_is_refused_never_the_default_kubeconfig(
        cluster: Cluster, target: dict[str, str]) -> None:
    for act in (ns_action("kc-web-1a2b3c", target), obj_action("kc-role", target=target)):
        with pytest.raises(RollbackFailed, match="refusing to fall back to the default "
                                                 "kubeconfig"):
            undo.run_undo(act)
    assert cluster.connected == [] and cluster.core.deleted == [] \
        and cluster.resource.deleted == []


# --- a replay: the safety gate, and what a refusal leaves ------------------------------------


def journal_with(tmp_path: Path, *actions: UndoAction) -> Journal:
    j = Journal(tmp_path / "run.jsonl")
    for a in actions:
        j.record(a)
    return j


def test_a_replay_on_a_cluster_not_ours_is_refused_and_stays_pending(
        tmp_path: Path, cluster: Cluster) -> None:
    j = journal_with(tmp_path, ns_action("kc-web-1a2b3c"), obj_action("kc-role"))
    outcomes = undo.rollback_all([j])
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert all("refusing to roll back undo actions on context 'kind-x': it is not a kind "
               "cluster provisioned by kube-chaos" in o.reason and
               "allow it with --allow-context=kind-x" in o.reason for o in outcomes)
    assert cluster.core.deleted == [] and cluster.resource.deleted == []
    state = read_journal(j.path)
    assert len(state.pending) == 2  # never reported done
    assert all("--allow-context=kind-x" in why for why in state.last_error.values())


def test_a_replay_on_an_allowed_context_deletes_what_is_ours(
        tmp_path: Path, cluster: Cluster) -> None:
    j = journal_with(tmp_path, ns_action("kc-web-1a2b3c"), obj_action("kc-role"),
                     obj_action("cluster-admin"), ns_action("kube-system"))
    outcomes = undo.rollback_all([j], allow_contexts=("kind-x",))
    assert {o.action.params.get("name") or o.action.params["namespace"]: o.status
            for o in outcomes} == {"kc-web-1a2b3c": "undone", "kc-role": "undone",
                                   "cluster-admin": "failed", "kube-system": "failed"}
    assert cluster.core.deleted == ["kc-web-1a2b3c"]
    assert cluster.resource.deleted == [(None, "kc-role")]
    assert sorted(a.params.get("name") or a.params["namespace"]
                  for a in read_journal(j.path).pending) == ["cluster-admin", "kube-system"]


def test_rollback_command_takes_allow_context(tmp_path: Path, cluster: Cluster,
                                              dead_writer: None,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    j = journal_with(tmp_path, ns_action("kc-web-1a2b3c"))
    assert cli_rollback.main(["--journal", str(j.path)]) == 1
    assert "FAILED: refusing to roll back" in capsys.readouterr().out
    assert cluster.core.deleted == []
    assert cli_rollback.main(["--journal", str(j.path), "--allow-context", "kind-x"]) == 0
    assert "undone" in capsys.readouterr().out
    assert cluster.core.deleted == ["kc-web-1a2b3c"]


def test_the_gate_asks_each_cluster_once(tmp_path: Path, cluster: Cluster,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.k8s import health

    asked: list[str] = []
    monkeypatch.setattr(health, "provisioned_problem",
                        lambda kube: asked.append(kube.context) or None)  # ours
    j = journal_with(tmp_path, ns_action("kc-web-1a2b3c"), obj_action("kc-role"),
                     obj_action("cluster-admin", target={**TARGET, "context": "kind-y"}))
    undo.rollback_all([j])
    assert sorted(asked) == ["kind-x", "kind-y"]
    assert cluster.core.deleted == ["kc-web-1a2b3c"]


def test_fake_handlers_and_local_ones_are_not_gated(tmp_path: Path, cluster: Cluster) -> None:
    ran: list[str] = []
    j = journal_with(tmp_path, UndoAction("delete-namespace", {"namespace": "kc-x"},
                                          target=TARGET, created=1.0))
    undo.rollback_all([j], {"delete-namespace": lambda a: ran.append(a.kind) and None})
    assert ran == ["delete-namespace"] and cluster.connected == []
    gate = undo.replay_gate()
    gate(UndoAction("start-node", {"node": "w1"}, target={}))  # docker, local: no cluster asked
    assert cluster.connected == []


def test_an_object_still_there_after_its_deletion_is_not_undone(cluster: Cluster,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    ignored: list[tuple[str | None, str]] = []
    monkeypatch.setattr(cluster.resource, "delete",
                        lambda name, namespace=None: ignored.append((namespace, name)))
    with pytest.raises(RollbackFailed) as info:
        undo.run_undo(obj_action("kc-role"))
    assert str(info.value) == "ClusterRole kc-role still exists after its deletion"
    with pytest.raises(RollbackFailed) as info:  # read back in its own namespace
        undo.run_undo(obj_action("worker-0", "kc-web-1a2b3c", kind="Pod"))
    assert str(info.value) == "Pod worker-0 still exists after its deletion"
    assert ignored == [(None, "kc-role"), ("kc-web-1a2b3c", "worker-0")]


def test_an_object_being_deleted_is_undone(cluster: Cluster,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def finalizing(name: str, namespace: str | None = None) -> None:
        labels = cluster.resource.objects[namespace, name]
        cluster.resource.get = lambda name, namespace=None: SimpleNamespace(  # type: ignore
            metadata={"labels": labels, "deletionTimestamp": "2026-12-07T00:00:00Z"})

    monkeypatch.setattr(cluster.resource, "delete", finalizing)
    assert undo.run_undo(obj_action("kc-role")) is None


def test_an_api_error_while_deleting_an_object_names_the_object(
        cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(name: str, namespace: str | None = None) -> None:
        raise ApiException(status=500, reason="etcd leader changed")

    monkeypatch.setattr(cluster.resource, "delete", refused)
    with pytest.raises(RollbackFailed) as info:
        undo.run_undo(obj_action("kc-role"))
    assert str(info.value) == ("ClusterRole kc-role: cannot delete ClusterRole kc-role: "
                               "(500)\nReason: etcd leader changed\n")
