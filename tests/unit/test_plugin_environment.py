"""The pieces of a session's run environment (chaos.plugin.environment) that need no cluster:
the worker count and journal name of an xdist worker, the halt refusal, the session manifest,
what provides images and metrics-server to a kind cluster, and the start-of-session undo of a
crashed run's leftovers, each line it writes and its colour."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chaos.errors import HaltActive
from chaos.model.abort import HaltMarker
from chaos.plugin import environment


def _worker(**workerinput: Any) -> Any:
    return SimpleNamespace(workerinput=workerinput)


def test_a_session_process_runs_alone_and_an_xdist_worker_counts_its_peers() -> None:
    assert environment._workers(SimpleNamespace()) == 1  # type: ignore[arg-type]
    assert environment._workers(_worker(workerid="gw0", workercount=3)) == 3
    assert environment._workers(_worker(workerid="gw0", workercount="4")) == 4
    assert environment._workers(_worker(workerid="gw0")) == 1  # an xdist without the count


def test_each_xdist_worker_keeps_its_own_journal() -> None:
    assert environment._journal_name(SimpleNamespace(), "20261207-001-7") == "20261207-001-7"  # type: ignore[arg-type]
    assert environment._journal_name(_worker(workerid="gw2", workercount=3),
                                     "20261207-001-7") == "20261207-001-7-gw2"


def test_a_halted_cluster_is_refused_naming_who_when_and_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.k8s import halt

    kube = SimpleNamespace(context="kind-kc")
    marker = HaltMarker(by="ops@box (pid 1)", at=0.0, reason="incident 42")
    asked: list[Any] = []
    monkeypatch.setattr(halt, "read_halt", lambda k: asked.append(k) or marker)
    with pytest.raises(HaltActive) as info:
        environment._refuse_if_halted(kube)
    assert asked == [kube]
    assert info.value.marker is marker
    assert str(info.value) == (f"cluster kind-kc is {marker.describe()}; no experiment may "
                               "start until `kube-chaos halt --clear --context kind-kc`")
    monkeypatch.setattr(halt, "read_halt", lambda k: None)
    assert environment._refuse_if_halted(kube) is None


def test_the_session_manifest_names_the_source_and_a_kind_clusters_image_and_config(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.cluster import kind
    from chaos.report import provenance

    monkeypatch.setattr(provenance, "source_revision", lambda: {"commit": "abc"})
    monkeypatch.setattr(kind, "node_image_identity", lambda name: {"tag": f"img-{name}"})
    monkeypatch.setattr(kind, "kind_config_record", lambda name: {"sha256": f"cfg-{name}"})
    assert environment._session_manifest("kc") == {
        "kube_chaos": {"commit": "abc"}, "node_image": {"tag": "img-kc"},
        "kind_config": {"sha256": "cfg-kc"}}
    assert environment._session_manifest(None) == {
        "kube_chaos": {"commit": "abc"}, "node_image": None, "kind_config": None}


def test_images_reach_a_kind_cluster_with_the_builtin_ones_its_manifests_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.cluster import images

    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(images, "provide", lambda cfg, names: calls.append((cfg.name, names)))
    monkeypatch.setattr(images, "builtin_among", lambda refs: [r for r in refs if "builtin" in r])
    provide = environment.image_provider("kc")
    provide(["busybox:1"], ["builtin/httpd", "nginx:1", "builtin/worker"])
    assert calls == [("kc", ["busybox:1", "builtin/httpd", "builtin/worker"])]


def test_metrics_server_is_installed_once_counting_the_nodes_but_the_load_balancer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos.cluster import kind, metrics_server

    installs: list[tuple[str, int | None]] = []
    monkeypatch.setattr(kind, "node_containers", lambda name: {"kc": [
        "kc-control-plane", "kc-external-load-balancer", "kc-worker"]}.get(name, []))
    monkeypatch.setattr(metrics_server, "install",
                        lambda cfg, nodes=None: installs.append((cfg.name, nodes)))
    provide = environment._metrics_provider("kc")
    provide()
    provide()  # a second experiment that needs it: already there
    assert installs == [("kc", 2)]
    environment._metrics_provider("kc")()  # another session's provider installs again
    assert installs == [("kc", 2), ("kc", 2)]


def test_the_worker_image_of_a_kind_cluster_is_built_for_that_cluster() -> None:
    from chaos.cluster.workers import KindWorkers

    assert environment._worker_image("kc") == KindWorkers("kc")


# --- the start-of-session undo of a crashed run's leftovers ---------------------------------


class Reporter:
    """The terminal reporter: each line with its markup."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, bool]]] = []

    def write_line(self, line: str, **markup: bool) -> None:
        self.lines.append((line, markup))


def _state(name: str, contexts: list[str], *, alive: str | None = None,
           problems: tuple[str, ...] = ()) -> Any:
    return SimpleNamespace(path=Path(f"/j/{name}.jsonl"), problems=problems,
                           pending=tuple(SimpleNamespace(target={"context": c})
                                         for c in contexts),
                           running=lambda: alive)


def _outcome(action: str, settled: bool) -> Any:
    return SimpleNamespace(settled=settled, describe=lambda: "undone" if settled else "FAILED",
                           action=SimpleNamespace(describe=lambda: action))


@pytest.fixture
def journals(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What roll_back_orphans reads and calls, as fakes: set "states" and "outcomes"."""
    from chaos.faults import undo
    from chaos.journal import store

    seen: dict[str, Any] = {"states": [], "outcomes": [], "warned": [], "rolled": []}
    monkeypatch.setattr(store, "all_journals", lambda: ["all"])
    monkeypatch.setattr(store, "load_journals",
                        lambda paths, kinds: seen["states"] if paths == ["all"] and
                        kinds == set(undo.HANDLERS) else [])
    monkeypatch.setattr(store, "warn_problems", lambda states: seen["warned"].append(states))

    def rollback_all(states: list[Any], allow_contexts: tuple[str, ...] = ()) -> list[Any]:
        seen["rolled"].append(([s.path.name for s in states], allow_contexts))
        return list(seen["outcomes"])

    monkeypatch.setattr(undo, "rollback_all", rollback_all)
    return seen


def test_nothing_left_behind_writes_nothing(journals: dict[str, Any]) -> None:
    journals["states"] = [_state("other", ["kind-y"])]
    reporter = Reporter()
    environment.roll_back_orphans("kind-x", reporter)
    assert reporter.lines == []
    assert journals["rolled"] == [] and journals["warned"] == []


def test_leftovers_on_this_cluster_are_undone_and_each_named(journals: dict[str, Any]) -> None:
    journals["states"] = [_state("crashed", ["kind-x", "kind-y"]),
                          _state("elsewhere", ["kind-y"]),
                          _state("live", ["kind-x", "kind-x"], alive="pid 7 is running"),
                          _state("bad", [], problems=("bad.jsonl:1: not UTF-8",))]
    journals["outcomes"] = [_outcome("uncordon(node=w1)", True),
                            _outcome("unpause-node(node=w2)", False)]
    reporter = Reporter()
    environment.roll_back_orphans("kind-x", reporter, ("staging",))
    assert journals["rolled"] == [(["crashed.jsonl"], ("staging",))]
    assert journals["warned"] == []  # named on the terminal instead
    assert reporter.lines == [
        ("kube-chaos: journal warning: bad.jsonl:1: not UTF-8", {"yellow": True}),
        ("kube-chaos: leaving 2 pending undo(s) of /j/live.jsonl on kind-x alone: its run may "
         "still be alive (pid 7 is running)", {"yellow": True}),
        ("kube-chaos: undo left by a crashed run on kind-x: 1 of 2 confirmed", {"yellow": True}),
        ("  uncordon(node=w1): undone", {"red": False}),
        ("  unpause-node(node=w2): FAILED", {"red": True}),
        ("  (what is not confirmed stays pending: `kube-chaos rollback` retries it)",
         {"yellow": True}),
    ]


def test_every_undo_confirmed_needs_no_retry_hint(journals: dict[str, Any]) -> None:
    journals["states"] = [_state("crashed", ["kind-x"])]
    journals["outcomes"] = [_outcome("uncordon(node=w1)", True)]
    reporter = Reporter()
    environment.roll_back_orphans("kind-x", reporter)
    assert journals["rolled"] == [(["crashed.jsonl"], ())]
    assert reporter.lines == [
        ("kube-chaos: undo left by a crashed run on kind-x: 1 of 1 confirmed", {"yellow": True}),
        ("  uncordon(node=w1): undone", {"red": False}),
    ]


def test_without_a_terminal_the_journal_problems_are_warnings(journals: dict[str, Any]) -> None:
    journals["states"] = [_state("bad", [], problems=("bad.jsonl:1: not UTF-8",)),
                          _state("crashed", ["kind-x"])]
    journals["outcomes"] = [_outcome("uncordon(node=w1)", False)]
    environment.roll_back_orphans("kind-x", None)
    assert journals["warned"] == [journals["states"]]
    assert journals["rolled"] == [(["crashed.jsonl"], ())]
