"""A directory run collects every experiment file, whatever YAML style it is written in; none
vanishes with the session exiting 0 (issue 18). Exercised with pytester, no cluster."""

from __future__ import annotations

import json

import pytest
import yaml
from plugin_project import add_workload, experiment

pytest_plugins = ["pytester"]

def _good(name: str) -> str:
    return experiment(name)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    add_workload(pytester.path / "workloads")
    return pytester


def test_json_spaced_and_late_api_version_experiments_are_all_collected(
        project: pytest.Pytester) -> None:
    (project.path / "as-json.yaml").write_text(json.dumps(yaml.safe_load(_good("as-json")),
                                                          indent=2))
    (project.path / "spaced.yaml").write_text(
        _good("spaced").replace("apiVersion: kube-chaos/v1", "apiVersion : kube-chaos/v1"))
    header = "".join(f"# line {i} of a long header explaining this experiment\n"
                     for i in range(100))
    assert len(header) > 4096
    (project.path / "late.yaml").write_text(header + _good("late"))
    result = project.runpytest("--collect-only", "-q", ".")
    result.stdout.fnmatch_lines_random(["as-json.yaml::as-json", "spaced.yaml::spaced",
                                        "late.yaml::late", "*3 tests collected*"])
    assert result.ret == 0


def test_an_invalid_experiment_in_any_style_is_a_collection_error_not_a_skip(
        project: pytest.Pytester) -> None:
    data = yaml.safe_load(_good("as-json"))
    data["spec"]["load"]["users"] = 10**21
    (project.path / "as-json.yaml").write_text(json.dumps(data, indent=2))
    (project.path / "aliased.yaml").write_text(
        "x-version: &v kube-chaos/v1\n" + _good("aliased").replace(
            "apiVersion: kube-chaos/v1", "apiVersion: *v"))
    result = project.runpytest("--collect-only", "-q", ".")
    out = result.stdout.str()
    assert "as-json.yaml:" in out and "spec.load.users: at most 100000, got " \
        "1000000000000000000000" in out
    assert "aliased.yaml:1: x-version: unknown field" in out
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors stop the session
    assert "Traceback" not in out


def test_a_huge_file_claiming_to_be_an_experiment_is_refused_not_skipped(
        project: pytest.Pytester) -> None:
    with (project.path / "huge.yaml").open("w") as f:
        f.write(("# " + "x" * 1021 + "\n") * 2048)  # 2 MiB of comments
        f.write(_good("huge"))
    result = project.runpytest("--collect-only", "-q", ".")
    out = result.stdout.str()
    assert "huge.yaml:" in out and "file too large" in out
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_manifests_naming_kube_chaos_images_stay_uncollected(project: pytest.Pytester) -> None:
    (project.path / "workloads" / "escaped.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {re: \"a\\\\.b\", "
        "image: \"kube-chaos/httpd:dev\"}\n")
    text = (project.path / "workloads" / "httpd-replicated.yaml").read_text()
    assert "kube-chaos/" in text  # its image: the sniffer must read it as YAML to tell
    result = project.runpytest("--collect-only", "-q", "workloads")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
