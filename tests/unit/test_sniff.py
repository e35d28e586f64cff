"""Which YAML files the plugin collects as experiments: apiVersion: kube-chaos/... in any YAML
style, anywhere in the file, never a workload manifest; a huge file is streamed, not read whole.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
import yaml

from chaos.model import yamlsafe
from chaos.model.sniff import is_experiment

BODY = "kind: Experiment\nmetadata: {name: x}\nspec: {}\n"
HEADER = "# " + "a comment header line of some length\n# " * 200 + "\n"  # > 4 KiB

EXPERIMENTS = {
    "block": "apiVersion: kube-chaos/v1\n" + BODY,
    "json": json.dumps({"apiVersion": "kube-chaos/v1", "kind": "Experiment",
                        "metadata": {"name": "x"}}, indent=2),
    "json-one-line": '{"apiVersion":"kube-chaos/v1","kind":"Experiment"}',
    "flow": "{kind: Experiment, apiVersion: kube-chaos/v1}",
    "space-before-colon": "apiVersion : kube-chaos/v1\n" + BODY,
    "tab-before-colon": "apiVersion\t: kube-chaos/v1\n" + BODY,
    "single-quoted": "'apiVersion': 'kube-chaos/v1'\n" + BODY,
    "value-next-line": BODY + "apiVersion:\n  kube-chaos/v1\n",
    "comment-before-value": "apiVersion: # the version\n  kube-chaos/v1\n" + BODY,
    "complex-key": "? apiVersion\n: kube-chaos/v1\n" + BODY,
    "tagged": "apiVersion: !!str kube-chaos/v1\n" + BODY,
    "anchored": "apiVersion: &v kube-chaos/v1\n" + BODY,
    "after-4k-header": HEADER + "apiVersion: kube-chaos/v1\n" + BODY,
    "last-line-after-4k": BODY + HEADER + "apiVersion: kube-chaos/v1\n",
    "alias": "x-version: &v 'kube-chaos/v1'\napiVersion: *v\n" + BODY,
    "merge-key": "<<: &base {kind: Experiment}\n<<: {apiVersion: \"kube-chaos/v1\"}\n",
    "escaped": 'apiVersion: "kube\\x2dchaos/v1"\n' + BODY,
    "escaped-key": '"api\\u0056ersion": kube-chaos/v1\n' + BODY,
    "other-version": "apiVersion: kube-chaos/v2\n" + BODY,  # collected, then refused clearly
    "broken-yaml": "apiVersion: kube-chaos/v1\nkind: [Experiment\n",
    "broken-yaml-exotic": "x: &v 'kube-chaos/v1'\napiVersion: *v\nkind: [Experiment\n",
    "second-document": "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: kube-chaos/v1\n",
}
NOT_EXPERIMENTS = {
    "manifest": "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n"
                "      containers: [{name: web, image: kube-chaos/httpd:dev}]\n",
    "manifest-with-escape": "apiVersion: v1\nkind: ConfigMap\ndata: {re: \"a\\\\.b\"}\n",
    "mention-in-comment": "# made for kube-chaos\napiVersion: v1\nkind: ConfigMap\n",
    "api-version-in-comment": "# deploys what an experiment (apiVersion: kube-chaos/v1) tests\n"
                              "apiVersion: v1\nkind: ConfigMap\n",
    "template": "apiVersion: apps/v1\nimage: {{ .Values.image | default \"kube-chaos/httpd\" }}\n",
    "nested-apiversion": "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, "
                        "kind: ConfigMap, data: {apiVersion: \"kube-chaos-ish\"}}\n",
    "plain": "a: 1\n",
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_an_experiment_in_any_style_is_recognised(tmp_path: Path, name: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(EXPERIMENTS[name])
    assert is_experiment(path)


@pytest.mark.parametrize("name", ["json", "space-before-colon", "after-4k-header", "alias",
                                  "escaped", "complex-key"])
def test_the_styles_are_valid_yaml_carrying_the_api_version(name: str) -> None:
    """The cases above are what they claim: YAML whose top-level apiVersion is kube-chaos/v1."""
    assert yaml.safe_load(EXPERIMENTS[name])["apiVersion"] == "kube-chaos/v1"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_other_encodings_are_recognised_so_they_fail_clearly(tmp_path: Path,
                                                             encoding: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(EXPERIMENTS["after-4k-header"].encode(encoding))
    assert is_experiment(path)


@pytest.mark.parametrize("name", sorted(NOT_EXPERIMENTS))
def test_manifests_and_other_yaml_are_not_experiments(tmp_path: Path, name: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(NOT_EXPERIMENTS[name])
    assert not is_experiment(path)


def test_an_unreadable_or_missing_file_is_not_collected(tmp_path: Path) -> None:
    assert not is_experiment(tmp_path / "gone.yaml")
    assert not is_experiment(tmp_path)  # a directory named like a YAML file


FILLER = "# " + "x" * 1021 + "\n"  # 1 KiB a line


@pytest.mark.parametrize(("tail", "expected"), [
    ("apiVersion: kube-chaos/v1\n", True),
    ('{"apiVersion" : "kube-chaos/v1"}\n', True),
    ("image: kube-chaos/httpd:dev\napiVersion: apps/v1\n", False),
    ("", False),
])
def test_a_file_over_the_size_cap_is_streamed_to_its_end(tmp_path: Path, tail: str,
                                                         expected: bool) -> None:
    """Over 1 MiB it cannot be an experiment, but one that claims to be must say so (loading
    it reports the size); memory stays bounded by the chunk, not the file."""
    path = tmp_path / "big.yaml"
    with path.open("w") as f:
        for _ in range(12 * 1024):  # 12 MiB of comments first
            f.write(FILLER)
        f.write(tail)
    assert path.stat().st_size >= 12 * yamlsafe.MAX_BYTES
    tracemalloc.start()
    try:
        assert is_experiment(path) is expected
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * yamlsafe.MAX_BYTES, f"{peak / 1e6:.1f} MB"  # a few chunks, not 12 MiB
