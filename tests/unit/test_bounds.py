"""Every number of the format has bounds: the parser refuses a value past them at collection,
naming the field, and the editor schema refuses the same numbers; values at the bound pass both.

(tests/unit/corpus/ holds a refused file for every bounded field; this module proves that the
bounds sit exactly where docs/experiments.md says, and that parser and schema agree on them.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from chaos.errors import ExperimentInvalid
from chaos.model import values as v
from chaos.model.parse import parse_experiment

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads((ROOT / "chaos" / "schema" / "experiment.schema.json").read_text()))

LOAD = """\
  load:
    users: 10
    spawnRate: 10
    warmup: 5s
    tail: 10s
    maxDuration: 90s
    maxRequests: 200000
    wait: 50ms
"""
OPEN = "  load: {mode: open, rate: 5/s, warmup: 5s, tail: 10s, maxDuration: 90s}\n"
FAULT = "    - type: pod-kill\n      count: 1\n      gracePeriod: 0\n"
BIG = "1" + "0" * 21  # 10^21
HUGE = "1" + "0" * 100  # 10^100
WEEK = "604800"

# (old text, new text with {} for the value, the value at the bound, a value past it,
#  the field, the reason); the value past it is a number, so the schema must refuse it too
CASES: list[tuple[str, str, str, str, str, str]] = [
    ("    replicas: 3", "    replicas: {}", "10000", "10001",
     "spec.workload.replicas", "at most 10000, got 10001"),
    ("    users: 10", "    users: {}", "100000", BIG,
     "spec.load.users", f"at most 100000, got {BIG}"),
    ("    spawnRate: 10", "    spawnRate: {}", "100000", "1.0e+300",
     "spec.load.spawnRate", "at most 100000/s, got 1.0e+300"),
    ("    maxRequests: 200000", "    maxRequests: {}", "1000000000", "1000000001",
     "spec.load.maxRequests", "at most 1000000000, got 1000000001"),
    # (warm-up, tail and maxDuration must also fit the run's timeout, itself at most 7d)
    ("    warmup: 5s", "    warmup: {}", "60", "604800.5",
     "spec.load.warmup", "at most 7d (604800s), got 604800.5"),
    ("  timeout: 180s", "  timeout: {}", WEEK, HUGE,
     "spec.timeout", "at most 7d (604800s), got 1000000000000000000000000000000000000..."),
    ("    maxDuration: 90s", "    maxDuration: {}", "180", "1.0e+100",
     "spec.load.maxDuration", "at most 7d (604800s), got 1.0e+100"),
    (LOAD, OPEN.replace("5/s", "{}"), "1000000", "1.0e+308",
     "spec.load.rate", "at most 1000000/s, got 1.0e+308"),
    (LOAD, OPEN.replace("}", ", maxInFlight: {}}"), "100000", HUGE,
     "spec.load.maxInFlight", "at most 100000, got 1000000000000000000000000000000000000..."),
    (LOAD, OPEN.replace("}", ", dropAfter: {}}"), WEEK, HUGE,
     "spec.load.dropAfter", "at most 7d (604800s)"),
    (LOAD, OPEN.replace("}", ", timeout: {}}"), WEEK, HUGE,
     "spec.load.timeout", "at most 7d (604800s)"),
    (LOAD, OPEN.replace("rate: 5/s", "steps: [{rate: {}, duration: 10s}]"), "1000000",
     "1000001", "spec.load.steps[0].rate", "at most 1000000/s, got 1000001"),
    ("  steadyState: {maxErrorRate: 0.0, readyReplicas: 3, window: 3s}",
     "  steadyState: {window: {}}", WEEK, "604801", "spec.steadyState.window",
     "at most 7d (604800s), got 604801"),
    ("    maxRecovery: 30s", "    maxRecovery: {}", WEEK, "604801",
     "spec.slas.maxRecovery", "at most 7d"),
    ("    maxRecovery: 30s", "    maxRestarts: {}", "10000", "10001",
     "spec.slas.maxRestarts", "at most 10000, got 10001"),
    ("  expect: pass", "  seed: {}", str(v.MAX_SEED), str(v.MAX_SEED + 1),
     "spec.seed", f"at most {v.MAX_SEED}, got {v.MAX_SEED + 1}"),
    ("  expect: pass", "  blastRadius: {{maxPods: {}}}", "10000", "10001",
     "spec.blastRadius.maxPods", "at most 10000, got 10001"),
    ("  expect: pass", "  abort: {{guards: [{{type: error-rate, max: 0.5, minRequests: {}}}]}}",
     "1000000", "1000001", "spec.abort.guards[0].minRequests", "at most 1000000"),
    ("  expect: pass", "  abort: {{guards: [{{type: http, url: 'http://127.0.0.1:1/', "
     "failures: {}}}]}}", "10000", "10001", "spec.abort.guards[0].failures", "at most 10000"),
    ("  expect: pass", "  abort: {{guards: [{{type: prometheus, url: 'http://127.0.0.1:9090', "
     "query: up, max: {}}}]}}", "1.0e+18", "1.0e+19", "spec.abort.guards[0].max",
     "expected a number from -1e+18 to 1e+18, got 1.0e+19"),
    (FAULT, "    - {{type: pod-kill, repeat: {}, interval: 0}}\n", "10000", "10001",
     "spec.faults[0].repeat", "at most 10000, got 10001"),
    (FAULT, "    - {{type: pod-kill, gracePeriod: {}}}\n", WEEK, "604801",
     "spec.faults[0].gracePeriod", "at most 7d (604800s), got 604801"),
    (FAULT, "    - {{type: cordon, count: {}}}\n  blastRadius: {{maxNodes: 10000}}\n",
     "10000", "10001", "spec.faults[0].count", "at most 10000, got 10001"),
    (FAULT, "    - {{type: latency, latency: {}}}\n", "60", "60.5",
     "spec.faults[0].latency", "at most 60s, got 60.5"),
    (FAULT, "    - {{type: latency, latency: 60s, jitter: {}}}\n", "60", "61",
     "spec.faults[0].jitter", "at most 60s, got 61"),
]


def _doc(good: str, old: str, new: str, value: str) -> str:
    assert old in good, old
    return good.replace(old, new.replace("{}", value).replace("{{", "{").replace("}}", "}"), 1)


@pytest.mark.parametrize(("old", "new", "ok", "bad", "field", "reason"), CASES,
                         ids=[c[4] for c in CASES])
def test_a_number_at_its_bound_passes_and_past_it_is_refused_by_parser_and_schema(
        good: str, exp_dir: Path, old: str, new: str, ok: str, bad: str, field: str,
        reason: str) -> None:
    fine = _doc(good, old, new, ok)
    data: Any = yaml.safe_load(fine)
    VALIDATOR.validate(data)
    parse_experiment(fine, exp_dir / "x.yaml")

    wrong = _doc(good, old, new, bad)
    with pytest.raises(ExperimentInvalid) as err:
        parse_experiment(wrong, exp_dir / "x.yaml")
    assert f": {field}: {reason}" in str(err.value)
    assert not VALIDATOR.is_valid(yaml.safe_load(wrong))


@pytest.mark.parametrize(("text", "reason"), [
    ("169h", "at most 7d (604800s), got '169h'"),
    ("10081m", "at most 7d (604800s), got '10081m'"),
    ("1e100", "at most 7d (604800s), got '1e100'"),
])
def test_a_duration_written_as_text_is_bounded_by_the_parser(good: str, exp_dir: Path,
                                                            text: str, reason: str) -> None:
    with pytest.raises(ExperimentInvalid) as err:
        parse_experiment(good.replace("    maxRecovery: 30s", f"    maxRecovery: {text}"),
                         exp_dir / "x.yaml")
    assert str(err.value).endswith(f": spec.slas.maxRecovery: {reason}")
    assert parse_experiment(good.replace("    maxRecovery: 30s", "    maxRecovery: 168h"),
                            exp_dir / "x.yaml").slas.max_recovery_s == 604800.0


@pytest.mark.parametrize(("url", "ok"), [
    ("http://shop.example:0", False),
    ("https://shop.example:65536", False),
    ("https://shop.example:99999", False),
    ("http://[::1]:0/", False),
    ("https://shop.example:65535", True),
    ("http://shop.example:1", True),
    ("https://shop.example", True),
])
def test_load_url_port_must_be_1_to_65535(good: str, exp_dir: Path, url: str, ok: bool) -> None:
    text = good.replace("    wait: 50ms", f"    wait: 50ms\n    url: '{url}'")
    valid = VALIDATOR.is_valid(yaml.safe_load(text))
    if ok:
        assert valid
        assert parse_experiment(text, exp_dir / "x.yaml").load.url == url.rstrip("/")
        return
    assert not valid
    with pytest.raises(ExperimentInvalid) as err:
        parse_experiment(text, exp_dir / "x.yaml")
    assert "spec.load.url: not a usable load URL (the port must be a number from 1 to 65535)" \
        in str(err.value)


def test_a_guard_url_with_port_0_is_refused(good: str, exp_dir: Path) -> None:
    text = good.replace("  expect: pass", "  abort: {guards: [{type: http, "
                        "url: 'http://127.0.0.1:0/readyz'}]}")
    with pytest.raises(ExperimentInvalid) as err:
        parse_experiment(text, exp_dir / "x.yaml")
    assert "guards[0].url: the port must be a number from 1 to 65535" in str(err.value)
