import hashlib
from pathlib import Path

from chaos.report.provenance import build_manifest, source_revision


def test_manifest_hashes_files_and_builds_a_rerun_command(tmp_path: Path) -> None:
    exp = tmp_path / "my exp.yaml"
    exp.write_text("apiVersion: kube-chaos/v1\n")
    wl = tmp_path / "wl.yaml"
    wl.write_text("kind: Deployment\n")
    m = build_manifest(
        seed=42, experiment=exp, exact=True, manifests=[wl, tmp_path / "gone.yaml"],
        locustfile=wl, images=[{"pod": "p", "node": "n", "container": "c", "image": "i:1",
                                "image_id": "sha256:abc"}],
        nodes=[], server_version="v1.34.4",
        session={"node_image": {"tag": "t", "id": "sha256:x"}},
        rerun_options=["--context=kind-x"], repeat=(2, 5), errors=["nodes: boom"])
    assert m["experiment_file"] == {"path": str(exp),
                                    "sha256": hashlib.sha256(exp.read_bytes()).hexdigest()}
    assert [f["sha256"] is None for f in m["workload_manifests"]] == [False, True]
    assert m["rerun"]["argv"] == ["kube-chaos", "run", str(exp), "--seed=42", "--context=kind-x"]
    assert m["rerun"]["command"].startswith("kube-chaos run '")  # the space is quoted
    assert m["repeat"] == {"index": 2, "count": 5}
    assert m["node_image"] == {"tag": "t", "id": "sha256:x"} and m["errors"] == ["nodes: boom"]
    assert m["kube_chaos"]["version"]


def test_source_revision_names_the_commit_of_a_checkout() -> None:
    rev = source_revision()
    if (Path(__file__).parents[2] / ".git").exists():
        assert isinstance(rev["commit"], str) and len(rev["commit"]) == 40
        assert isinstance(rev["dirty"], bool)
