"""The pytest options a session was run with, turned back into `kube-chaos run` flags for its
rerun command (chaos.plugin.options.rerun_options): each flag, its order, and what is left out."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.plugin.options import rerun_options


class Config:
    """What rerun_options reads of a pytest config: command-line values, then the ini's."""

    def __init__(self, start: Path, **opts: Any) -> None:
        self.opts = opts
        self.invocation_params = SimpleNamespace(dir=start)

    def getoption(self, name: str) -> object:
        return self.opts.get(name)

    def getini(self, name: str) -> object:
        return ""


def test_a_session_with_no_options_reruns_with_no_flags(tmp_path: Path) -> None:
    assert rerun_options(Config(tmp_path)) == ()  # type: ignore[arg-type]


def test_every_option_comes_back_as_its_flag_in_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = Config(tmp_path / "start", chaos_kubeconfig="~/k/config", chaos_context="kind-x",
                    chaos_allow_context=["a", "b"], chaos_allow_host=["h1", "h2"],
                    chaos_allow_path=["deploy"], chaos_max_pods="2", chaos_max_percent="",
                    chaos_max_nodes="1")
    assert rerun_options(config) == (  # type: ignore[arg-type]
        f"--kubeconfig={(tmp_path / 'home' / 'k' / 'config').resolve()}",
        "--context=kind-x",  # a name, not a path: kept as given
        "--allow-context=a", "--allow-context=b",
        "--allow-host=h1", "--allow-host=h2",
        f"--allow-path={(tmp_path / 'start' / 'deploy').resolve()}",
        "--max-pods=2", "--max-nodes=1",  # an empty percent is no limit
    )


def test_a_relative_kubeconfig_is_made_absolute_for_the_rerun(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = Config(tmp_path, chaos_kubeconfig="kc.yaml", chaos_max_percent="50.0")
    assert rerun_options(config) == (  # type: ignore[arg-type]
        f"--kubeconfig={(tmp_path / 'kc.yaml').resolve()}", "--max-percent=50.0")
