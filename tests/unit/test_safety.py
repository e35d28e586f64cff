"""Faults are refused on clusters kube-chaos did not provision, unless allowed by name. A marker
is trusted only when it names this very cluster (its kube-system UID and API server)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from chaos.engine.runner import RunEnv, check_safety
from chaos.errors import SafetyRefused
from chaos.journal.store import Journal
from chaos.k8s.health import marker_problem

IDENTITY = {"kube-system-uid": "5f0c-uid", "server": "https://127.0.0.1:41234"}


class _Core:
    def __init__(self, marker: dict[str, str] | None) -> None:
        self.marker = marker

    def read_namespaced_config_map(self, name: str, namespace: str) -> object:
        if self.marker is None:
            raise ApiException(status=404, reason="Not Found")
        return SimpleNamespace(data=self.marker)

    def read_namespace(self, name: str) -> object:
        return SimpleNamespace(metadata=SimpleNamespace(uid=IDENTITY["kube-system-uid"]))


def _env(tmp_path: Path, marker: dict[str, str] | None,
         allow: tuple[str, ...] = ()) -> RunEnv:
    kube = SimpleNamespace(context="prod-eu", core=_Core(marker), api=SimpleNamespace(
        configuration=SimpleNamespace(host=IDENTITY["server"])))
    return RunEnv(kube=kube, kubeconfig="x", run_id="r", reports_dir=tmp_path, seed=1,  # type: ignore[arg-type]
                  cluster_name=None, journal=Journal(tmp_path / "j.jsonl"), allow_contexts=allow)


def test_foreign_cluster_is_refused_with_the_way_out(tmp_path: Path) -> None:
    with pytest.raises(SafetyRefused, match=r"context 'prod-eu'.*no kube-system/kube-chaos-"
                                            r"cluster marker.*--chaos-allow-context=prod-eu"):
        check_safety(_env(tmp_path, marker=None))


def test_cluster_provisioned_by_kube_chaos_is_allowed(tmp_path: Path) -> None:
    check_safety(_env(tmp_path, marker={"cluster": "kube-chaos", **IDENTITY}))


def test_a_hand_made_marker_is_not_trusted(tmp_path: Path) -> None:
    with pytest.raises(SafetyRefused, match="does not match this cluster"):
        check_safety(_env(tmp_path, marker={"cluster": "kube-chaos"}))
    copied = {**IDENTITY, "kube-system-uid": "uid-of-another-cluster"}
    with pytest.raises(SafetyRefused, match="kube-system-uid is 'uid-of-another-cluster'"):
        check_safety(_env(tmp_path, marker=copied))


def test_context_named_in_the_allow_list_is_allowed(tmp_path: Path) -> None:
    check_safety(_env(tmp_path, marker=None, allow=("prod-eu",)))


def test_marker_problem_names_the_field_that_differs() -> None:
    assert marker_problem({**IDENTITY}, IDENTITY) is None
    moved = {**IDENTITY, "server": "https://10.0.0.1:6443"}
    assert marker_problem(moved, IDENTITY) == (
        "the kube-system/kube-chaos-cluster marker does not match this cluster (server is "
        "'https://10.0.0.1:6443', the cluster's is 'https://127.0.0.1:41234')")


# --- the gate itself (chaos.k8s.safety.refuse_unless_ours), as every path calls it --------------


def test_the_gate_refuses_with_what_was_asked_the_reason_and_the_allow_flag() -> None:
    from chaos.k8s.safety import refuse_unless_ours

    kube: Any = SimpleNamespace(context="prod-eu")
    with pytest.raises(SafetyRefused) as info:
        refuse_unless_ours(kube, (), lambda k: "no marker", doing="roll back",
                           way_out="--allow-context")
    assert str(info.value) == (
        "refusing to roll back context 'prod-eu': it is not a kind cluster provisioned by "
        "kube-chaos (no marker). If this really is a cluster you may break, allow it with "
        "--allow-context=prod-eu.")
    with pytest.raises(SafetyRefused) as default:
        refuse_unless_ours(kube, ["other"], lambda k: "no marker")
    assert str(default.value) == (
        "refusing to inject faults into context 'prod-eu': it is not a kind cluster "
        "provisioned by kube-chaos (no marker). If this really is a cluster you may break, "
        "allow it with --chaos-allow-context=prod-eu (or the chaos_allow_context ini option).")


def test_the_gate_lets_an_allowed_context_through_without_asking_the_cluster(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.k8s import health
    from chaos.k8s.safety import refuse_unless_ours

    asked: list[object] = []
    monkeypatch.setattr(health, "provisioned_problem", lambda k: asked.append(k) or "foreign")
    kube: Any = SimpleNamespace(context="prod-eu")
    refuse_unless_ours(kube, iter(["dev", "prod-eu"]))  # any iterable, read once
    assert asked == []
    with pytest.raises(SafetyRefused, match=r"\(foreign\)"):
        refuse_unless_ours(kube, ["dev"])  # the default check is the provisioned marker's
    assert asked == [kube]
    refuse_unless_ours(kube, [], lambda k: None)  # a cluster the check finds ours
