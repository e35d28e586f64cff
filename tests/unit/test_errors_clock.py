from __future__ import annotations

import pytest

from chaos.clock import Clock, Deadline, FakeClock, SystemClock
from chaos.errors import (
    BuildFailed,
    ChaosError,
    ClusterError,
    DockerUnavailable,
    ExperimentInvalid,
    InjectionFailed,
    NotEnoughTargets,
    SLAViolated,
)
from chaos.model import SLAResult


def test_experiment_invalid_formats_all_parts() -> None:
    e = ExperimentInvalid("bad", path="x.yaml", line=3, field="spec.load")
    assert str(e) == "x.yaml:3: spec.load: bad"
    assert (e.path, e.line, e.field, e.reason) == ("x.yaml", 3, "spec.load", "bad")


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"path": "x.yaml"}, "x.yaml: bad"),
        ({"line": 4}, "line 4: bad"),
        ({"field": "spec"}, "spec: bad"),
        ({}, "bad"),
        ({"path": "x.yaml", "field": "spec"}, "x.yaml: spec: bad"),
    ],
)
def test_experiment_invalid_omits_missing_parts(kwargs: dict[str, object], text: str) -> None:
    assert str(ExperimentInvalid("bad", **kwargs)) == text  # type: ignore[arg-type]


def test_hierarchy() -> None:
    assert issubclass(ExperimentInvalid, ChaosError)
    assert issubclass(DockerUnavailable, ClusterError)
    assert issubclass(NotEnoughTargets, InjectionFailed)
    err = BuildFailed("kubelet", "/tmp/build.log", "exit 2")
    assert str(err) == "build step 'kubelet' failed: exit 2 (log: /tmp/build.log)"
    assert err.step == "kubelet"


def test_sla_violated_names_sla_threshold_and_observed() -> None:
    results = [
        SLAResult("maxOutage", 1.0, 2.3, False, "s"),
        SLAResult("maxErrorRate", 0.05, 0.01, True, "ratio"),
        SLAResult("p95Latency", 500.0, None, False, "ms"),
        SLAResult("expectedRestarts", 1, 0, False, "count", ">="),
    ]
    err = SLAViolated(results, experiment="pod-kill")
    assert err.results == results
    assert err.failed == [results[0], results[2], results[3]]
    assert str(err) == (
        "pod-kill: 3 SLAs violated:\n"
        "  maxOutage: observed 2.3s exceeds threshold 1s\n"
        "  p95Latency: not measured (threshold 500ms)\n"
        "  expectedRestarts: observed 0 is below minimum 1"
    )


def test_fake_clock_and_deadline() -> None:
    clock = FakeClock()
    assert isinstance(clock, Clock)
    assert isinstance(SystemClock(), Clock)
    d = Deadline(clock, 5)
    assert d.remaining() == 5 and not d.expired()
    d.check("pods ready")
    clock.sleep(4.5)
    assert d.remaining() == pytest.approx(0.5)
    clock.advance(0.5)
    assert d.expired() and d.remaining() == 0
    with pytest.raises(TimeoutError, match=r"^pods ready: deadline of 5s exceeded$"):
        d.check("pods ready")
    assert clock.sleeps == [4.5]
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_system_clock_moves() -> None:
    c = SystemClock()
    a = c.monotonic()
    c.sleep(0)
    assert c.monotonic() >= a and c.wall() > 1e9
