"""Faults are refused on clusters kube-chaos did not provision, unless allowed by name."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from kubernetes.client.rest import ApiException

from chaos.errors import SafetyRefused
from chaos.journal import Journal
from chaos.runner import RunEnv, check_safety


class _Core:
    def __init__(self, marker: bool) -> None:
        self.marker = marker

    def read_namespaced_config_map(self, name: str, namespace: str) -> object:
        if not self.marker:
            raise ApiException(status=404, reason="Not Found")
        return SimpleNamespace(data={"cluster": "kube-chaos"})


def _env(tmp_path: Path, marker: bool, allow: tuple[str, ...] = ()) -> RunEnv:
    kube = SimpleNamespace(context="prod-eu", core=_Core(marker))
    return RunEnv(kube=kube, kubeconfig="x", run_id="r", reports_dir=tmp_path, seed=1,  # type: ignore[arg-type]
                  cluster_name=None, journal=Journal(tmp_path / "j.jsonl"), allow_contexts=allow)


def test_foreign_cluster_is_refused_with_the_way_out(tmp_path: Path) -> None:
    with pytest.raises(SafetyRefused, match=r"context 'prod-eu'.*--chaos-allow-context=prod-eu"):
        check_safety(_env(tmp_path, marker=False))


def test_cluster_provisioned_by_kube_chaos_is_allowed(tmp_path: Path) -> None:
    check_safety(_env(tmp_path, marker=True))


def test_context_named_in_the_allow_list_is_allowed(tmp_path: Path) -> None:
    check_safety(_env(tmp_path, marker=False, allow=("prod-eu",)))
