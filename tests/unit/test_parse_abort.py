"""spec.abort: every guard type parsed, every mistake named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.model.abort import (
    AbortSpec,
    ErrorRateGuard,
    HttpGuard,
    KubernetesGuard,
    OutageGuard,
    PrometheusGuard,
)
from chaos.model.parse import load_experiment

ABORT = """\
  abort:
    interval: 500ms
    guards:
      - {type: outage, max: 2s}
"""


def _doc(good: str, abort: str = ABORT) -> str:
    return good.replace("  expect: pass\n", "  expect: pass\n" + abort)


def _load(exp_dir: Path, text: str) -> object:
    path = exp_dir / "x.yaml"
    path.write_text(text)
    return load_experiment(path)


def _error(exp_dir: Path, text: str) -> str:
    path = exp_dir / "x.yaml"
    path.write_text(text)
    with pytest.raises(ExperimentInvalid) as info:
        load_experiment(path)
    return str(info.value).replace(str(path), "x.yaml")


def test_no_abort_section_means_only_the_built_in_halt_guard(good: str, exp_dir: Path) -> None:
    exp = _load(exp_dir, good)
    assert exp.abort == AbortSpec()  # type: ignore[attr-defined]


def test_every_guard_type(good: str, exp_dir: Path) -> None:
    abort = """\
  abort:
    guards:
      - {type: outage, max: 2s}
      - {type: error-rate, max: 0.2, window: 3s, minRequests: 20, onError: ignore}
      - type: http
        name: ready
        url: http://127.0.0.1:30086/readyz
        timeout: 300ms
        status: [200, 204]
        failures: 2
      - type: prometheus
        url: http://127.0.0.1:9090
        query: 'up{job="httpd"}'
        min: 1
        noData: abort
      - {type: prometheus, url: "http://127.0.0.1:9090/", query: 'rate(x[1m])', min: -1, max: 2.5}
      - type: kubernetes
        object: {kind: Deployment, name: httpd, namespace: shop}
        condition: Available
      - {type: kubernetes, object: {kind: Node, name: kind-worker}, condition: Ready,
         status: "True"}
      - {type: kubernetes, object: {kind: Pod, name: p}, condition: Ready, status: False}
      - {type: http, url: "https://example.com/health", status: 200}
"""
    exp = _load(exp_dir, _doc(good, abort))
    assert exp.abort == AbortSpec(interval_s=1.0, guards=(  # type: ignore[attr-defined]
        OutageGuard(name="outage", max_s=2.0),
        ErrorRateGuard(name="error-rate", on_error="ignore", max=0.2, window_s=3.0,
                       min_requests=20),
        HttpGuard(name="ready", url="http://127.0.0.1:30086/readyz", timeout_s=0.3,
                  status=(200, 204), failures=2),
        PrometheusGuard(name="prometheus", url="http://127.0.0.1:9090",
                        query='up{job="httpd"}', min=1.0, timeout_s=1.0, no_data="abort"),
        PrometheusGuard(name="prometheus-2", url="http://127.0.0.1:9090/", query="rate(x[1m])",
                        min=-1.0, max=2.5),
        KubernetesGuard(name="kubernetes", kind="Deployment", object_name="httpd",
                        namespace="shop", condition="Available"),
        KubernetesGuard(name="kubernetes-2", kind="Node", object_name="kind-worker",
                        condition="Ready", status="True"),
        KubernetesGuard(name="kubernetes-3", kind="Pod", object_name="p", condition="Ready",
                        status="False"),
        HttpGuard(name="http", url="https://example.com/health", status=(200,)),
    ))


G = "    guards:\n"
CASES = [
    ("  abort: []\n", "x.yaml:33: spec.abort: expected a mapping, got a list"),
    ("  abort: {interval: 1s}\n", "x.yaml:33: spec.abort.guards: required field missing"),
    ("  abort: {guards: []}\n", "x.yaml:33: spec.abort.guards: expected a non-empty list"),
    ("  abort:\n    interval: 2s\n" + G + "      - {type: outage, max: 1s}\n",
     "x.yaml:34: spec.abort.interval: 2s: guards are evaluated at least once a second, at most "
     "every 0.1s (give 100ms..1s)"),
    ("  abort:\n    interval: 50ms\n" + G + "      - {type: outage, max: 1s}\n",
     "x.yaml:34: spec.abort.interval: 0.05s: guards are evaluated at least once a second, at "
     "most every 0.1s (give 100ms..1s)"),
    ("  abort:\n    gards: []\n",
     "x.yaml:34: spec.abort.gards: unknown field (did you mean 'guards'?); allowed: guards, "
     "interval"),
    ("  abort:\n" + G + "      - outage\n",
     "x.yaml:35: spec.abort.guards[0]: expected a mapping with a 'type', got 'outage'"),
    ("  abort:\n" + G + "      - {max: 2s}\n",
     "x.yaml:35: spec.abort.guards[0].type: required field missing; known types: outage, "
     "error-rate, http, prometheus, kubernetes"),
    ("  abort:\n" + G + "      - {type: outrage, max: 2s}\n",
     "x.yaml:35: spec.abort.guards[0].type: unknown guard type 'outrage' (did you mean "
     "'outage'?); known types: outage, error-rate, http, prometheus, kubernetes"),
    ("  abort:\n" + G + "      - {type: outage}\n",
     "x.yaml:35: spec.abort.guards[0].max: required field missing"),
    ("  abort:\n" + G + "      - {type: outage, max: 0s}\n",
     "x.yaml:35: spec.abort.guards[0].max: expected a duration above zero, got '0s'"),
    ("  abort:\n" + G + "      - {type: outage, max: 2s, window: 5s}\n",
     "x.yaml:35: spec.abort.guards[0].window: unknown field; allowed: max, name, onError, type"),
    ("  abort:\n" + G + "      - {type: outage, max: 2s}\n      - {type: outage, max: 3s, "
     "name: outage}\n",
     "x.yaml:36: spec.abort.guards[1].name: 'outage' already names spec.abort.guards[0]"),
    ("  abort:\n" + G + "      - {type: outage, max: 2s, name: halt}\n",
     "x.yaml:35: spec.abort.guards[0].name: expected letters, digits, '-', '_' or '.' (at most "
     "63, not 'halt', the built-in kill switch), got 'halt'"),
    ("  abort:\n" + G + "      - {type: outage, max: 2s, onError: panic}\n",
     "x.yaml:35: spec.abort.guards[0].onError: expected one of 'abort', 'ignore', got 'panic'"),
    ("  abort:\n" + G + "      - {type: error-rate, max: 1.5}\n",
     "x.yaml:35: spec.abort.guards[0].max: expected a ratio between 0 and 1, got 1.5"),
    ("  abort:\n" + G + "      - {type: http, url: 'ftp://127.0.0.1/x'}\n",
     "x.yaml:35: spec.abort.guards[0].url: expected an http:// or https:// URL, got "
     "'ftp://127.0.0.1/x'"),
    # the error does not echo the credentials (issue 18)
    ("  abort:\n" + G + "      - {type: http, url: 'http://user:pw@127.0.0.1/x'}\n",
     "x.yaml:35: spec.abort.guards[0].url: credentials in the URL are not allowed (they would "
     "sit in the experiment file and travel with every check), got 'http://***@127.0.0.1/x'"),
    ("  abort:\n" + G + "      - {type: http, url: 'http:///x'}\n",
     "x.yaml:35: spec.abort.guards[0].url: the URL names no host, got 'http:///x'"),
    ("  abort:\n" + G + "      - {type: http, url: 'http://127.0.0.1:99999/'}\n",
     "x.yaml:35: spec.abort.guards[0].url: not a valid URL: Port out of range 0-65535"),
    ("  abort:\n" + G + "      - {type: http, url: 'http://127.0.0.1/', timeout: 2s}\n",
     "x.yaml:35: spec.abort.guards[0].timeout: 2s is longer than spec.abort.interval (1s): a "
     "hanging check would leave the guard unevaluated for longer than that"),
    ("  abort:\n" + G + "      - {type: http, url: 'http://127.0.0.1/', status: [200, 200]}\n",
     "x.yaml:35: spec.abort.guards[0].status: status codes must be unique"),
    ("  abort:\n" + G + "      - {type: http, url: 'http://127.0.0.1/', status: [200, 700]}\n",
     "x.yaml:35: spec.abort.guards[0].status[1]: expected an HTTP status code (100-599), "
     "got 700"),
    ("  abort:\n" + G + "      - {type: http, url: 'http://127.0.0.1/', failures: 0}\n",
     "x.yaml:35: spec.abort.guards[0].failures: expected a positive integer, got 0"),
    ("  abort:\n" + G + "      - {type: prometheus, url: 'http://127.0.0.1:9090', query: up}\n",
     "x.yaml:35: spec.abort.guards[0].max: give min, max or both: the bounds every sample of "
     "the query must stay within"),
    ("  abort:\n" + G + "      - {type: prometheus, url: 'http://127.0.0.1:9090', query: up,\n"
     "         min: 2, max: 1}\n",
     "x.yaml:36: spec.abort.guards[0].max: 1 is below min (2)"),
    ("  abort:\n" + G + "      - {type: prometheus, url: 'http://127.0.0.1:9090', query: up,\n"
     "         min: .nan}\n",
     "x.yaml:36: spec.abort.guards[0].min: expected a finite number, got .nan"),
    ("  abort:\n" + G + "      - {type: prometheus, url: 'http://127.0.0.1:9090', min: 1}\n",
     "x.yaml:35: spec.abort.guards[0].query: required field missing"),
    ("  abort:\n" + G + "      - {type: kubernetes, object: {kind: Service, name: s}, "
     "condition: Ready}\n",
     "x.yaml:35: spec.abort.guards[0].object.kind: expected one of 'Pod', 'Node', 'Deployment',"
     " 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', got 'Service'"),
    ("  abort:\n" + G + "      - {type: kubernetes, object: {kind: Node, name: n, namespace: x},"
     " condition: Ready}\n",
     "x.yaml:35: spec.abort.guards[0].object.namespace: a Node is not namespaced"),
    ("  abort:\n" + G + "      - {type: kubernetes, object: {kind: Pod, name: p}, "
     "condition: 'is ready'}\n",
     "x.yaml:35: spec.abort.guards[0].condition: expected a condition type such as Ready or "
     "Available, got 'is ready'"),
    ("  abort:\n" + G + "      - {type: kubernetes, object: {kind: Pod, name: p}, "
     "condition: Ready, status: maybe}\n",
     "x.yaml:35: spec.abort.guards[0].status: expected True, False or Unknown, got 'maybe'"),
    ("  abort:\n" + G + "      - {type: kubernetes, object: {kind: Pod}, condition: Ready}\n",
     "x.yaml:35: spec.abort.guards[0].object.name: required field missing"),
]


@pytest.mark.parametrize(("abort", "expected"), CASES)
def test_abort_errors_name_file_line_and_field(good: str, exp_dir: Path, abort: str,
                                               expected: str) -> None:
    assert _error(exp_dir, _doc(good, abort)) == expected
