"""The objects we write for kwok: fake nodes only kwok manages and no real pod lands on, and
pods that land only there."""

from __future__ import annotations

from pathlib import Path

from chaos.cluster.gobuild import KWOK_STAGES
from chaos.cluster.kwok import KWOK_ANNOTATION, KWOK_TAINT, fake_node, fake_pod_spec, kwok_argv


def test_fake_node_is_annotated_for_kwok_and_tainted_against_real_pods() -> None:
    node = fake_node("kwok-7", pods=200)
    meta = node["metadata"]
    assert meta["name"] == "kwok-7"
    assert meta["annotations"][KWOK_ANNOTATION[0]] == KWOK_ANNOTATION[1]
    assert meta["labels"]["type"] == "kwok"
    assert node["spec"]["taints"] == [KWOK_TAINT]
    assert node["status"]["capacity"]["pods"] == "200"


def test_fake_pod_tolerates_the_taint_and_selects_kwok_nodes() -> None:
    spec = fake_pod_spec()
    assert spec["nodeSelector"] == {"type": "kwok"}
    (tol,) = spec["tolerations"]
    assert tol["key"] == KWOK_TAINT["key"] and tol["operator"] == "Exists"
    assert "nodeName" not in spec
    assert fake_pod_spec("kwok-3")["nodeName"] == "kwok-3"


def test_kwok_manages_only_annotated_nodes_with_our_stages() -> None:
    argv = kwok_argv(Path("/bin/kwok"), Path("/k/config"), Path("/w/stages.yaml"))
    assert "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake" in argv
    assert not any(a.startswith("--manage-all-nodes") for a in argv)
    assert argv[argv.index("--config") + 1] == "/w/stages.yaml"
    # nodes must keep their lease, or the node lifecycle controller marks them NotReady
    assert any("heartbeat-with-lease" in s for s in KWOK_STAGES)
    assert any(s.endswith("pod-delete.yaml") for s in KWOK_STAGES)
