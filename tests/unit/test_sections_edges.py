"""Sections of the experiment at their edges, each refusal with its whole message: the abort
interval at its lowest, which half of kind/name is missing, load options that need a url, the
ready count steady state can reach."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model.parse import parse_experiment


def _parse(exp_dir: Path, good: str, old: str, new: str) -> object:
    assert old in good, old
    return parse_experiment(good.replace(old, new, 1), exp_dir / "x.yaml")


def _error(exp_dir: Path, good: str, old: str, new: str) -> str:
    with pytest.raises(ExperimentInvalid) as info:
        _parse(exp_dir, good, old, new)
    return str(info.value).replace(str(exp_dir), "D")


ABORT = "  timeout: 180s\n  abort: {interval: 100ms, guards: [{type: outage, max: 1s}]}\n"


def test_guards_may_be_evaluated_every_100ms(good: str, exp_dir: Path) -> None:
    exp = parse_experiment(good.replace("  timeout: 180s\n", ABORT), exp_dir / "x.yaml")
    assert exp.abort.interval_s == 0.1
    assert [(g.name, g.type) for g in exp.abort.guards] == [("outage", "outage")]


def test_a_faster_interval_is_refused(good: str, exp_dir: Path) -> None:
    assert _error(exp_dir, good, "  timeout: 180s\n", ABORT.replace("100ms", "99ms")) == (
        "D/x.yaml:32: spec.abort.interval: 0.099s: guards are evaluated at least once a "
        "second, at most every 0.1s (give 100ms..1s)")


@pytest.mark.parametrize(("given", "missing"), [("kind: StatefulSet", "name"),
                                                 ("name: db", "kind")])
def test_the_missing_half_of_kind_and_name_is_named(good: str, exp_dir: Path, given: str,
                                                    missing: str) -> None:
    assert _error(exp_dir, good, "    manifests: [workloads/httpd.yaml]\n",
                  f"    existing: {{namespace: shop, {given}}}\n") == (
        f"D/x.yaml:8: spec.workload.existing.{missing}: give kind and name together (the "
        "controller whose rollout must be complete before any fault), or neither")


def test_tls_verify_needs_a_url(good: str, exp_dir: Path) -> None:
    assert _error(exp_dir, good, "    users: 10\n", "    users: 10\n    tlsVerify: false\n") == (
        "D/x.yaml:16: spec.load.tlsVerify: only meaningful with url: the NodePort load is "
        "plain http")


def test_secret_headers_to_another_machine_are_refused_whole(good: str, exp_dir: Path) -> None:
    assert _error(exp_dir, good, "    users: 10\n",
                  "    users: 10\n    url: http://staging.example:8080\n"
                  "    headersFromEnv: {X-Token: TOKEN}\n") == (
        "D/x.yaml:17: spec.load.headersFromEnv: X-Token would travel in clear text: "
        "http://staging.example:8080 is plain http to another machine than this one; use "
        "https (plain http only to 127.0.0.1, localhost or ::1)")


def test_more_ready_replicas_than_the_workload_runs_are_refused(good: str,
                                                                exp_dir: Path) -> None:
    assert _error(exp_dir, good, "readyReplicas: 3", "readyReplicas: 4") == (
        "D/x.yaml:22: spec.steadyState.readyReplicas: 4 is more than spec.workload.replicas "
        "(3): the steady state could never be reached")
