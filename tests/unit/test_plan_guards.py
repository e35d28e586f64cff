"""Abort guards as pure decisions: live outage and error rate, HTTP, Prometheus answers,
conditions, the halt marker, streaks, and which hosts a guard may reach."""

from __future__ import annotations

import json

import pytest

from chaos.model.abort import (
    ERROR_LIMIT,
    ErrorRateGuard,
    HaltMarker,
    HttpGuard,
    KubernetesGuard,
    OutageGuard,
    PrometheusGuard,
)
from chaos.model.timeline import RequestRecord
from chaos.plan import guards as pg
from chaos.plan import timeline as ptl

T0 = 1_700_000_000.0


def _rec(t: float, ok: bool = True, latency: float = 0.01) -> RequestRecord:
    return RequestRecord(t=T0 + t, latency_s=latency, ok=ok, status=200 if ok else 503)


def _steady(until: float, step: float = 0.1) -> list[RequestRecord]:
    return [_rec(i * step) for i in range(round(until / step))]


# -- live outage -------------------------------------------------------------------------------


def test_no_outage_while_requests_are_served() -> None:
    assert pg.live_outage(_steady(5), T0 + 5.0) == (0.0, None)
    assert pg.live_outage([], T0) == (0.0, None)


def test_failed_requests_after_the_last_served_one_open_an_outage() -> None:
    records = [*_steady(5), *(_rec(5 + i * 0.1, ok=False) for i in range(10))]
    seconds, start = pg.live_outage(records, T0 + 6.5)
    assert start == pytest.approx(T0 + 5.0) and seconds == pytest.approx(1.5)


def test_served_requests_close_the_outage() -> None:
    records = [*_steady(5), _rec(5.0, ok=False), _rec(5.5, ok=False), _rec(6.0)]
    assert pg.live_outage(records, T0 + 6.02) == (0.0, None)


def test_slow_successes_are_unserved_like_failures() -> None:
    records = [*_steady(5), _rec(5.0, latency=1.5)]
    seconds, start = pg.live_outage(records, T0 + 7.0)
    assert start == pytest.approx(T0 + 5.0) and seconds == pytest.approx(2.0)


def test_silence_means_requests_hang_and_counts_from_their_start() -> None:
    records = _steady(5)  # the last request ended at 4.91; then nothing completes
    last_end = records[-1].end
    assert pg.live_outage(records, last_end + 0.05 + 1.0, wait_s=0.05) == (0.0, None)
    seconds, start = pg.live_outage(records, last_end + 3.05, wait_s=0.05)
    assert start == pytest.approx(last_end + 0.05) and seconds == pytest.approx(3.0)


def test_the_live_outage_agrees_with_the_outage_found_afterwards() -> None:
    records = [*_steady(5), *(_rec(5 + i * 0.1, ok=False) for i in range(30)), _rec(8.0)]
    during = pg.live_outage(records[:-1], T0 + 8.0)[0]
    after = ptl.longest_outage_s(records)
    assert during == pytest.approx(after)


def test_outage_reading_breaches_strictly_above_the_threshold() -> None:
    guard = OutageGuard(name="outage", max_s=2.0)
    records = [*_steady(5), *(_rec(5 + i * 0.1, ok=False) for i in range(40))]
    at_two = pg.outage_reading(guard, records, T0 + 7.0, True)
    assert at_two.status == "ok" and at_two.value == pytest.approx(2.0)
    over = pg.outage_reading(guard, records, T0 + 7.2, True)
    assert over.status == "failed" and over.value == pytest.approx(2.2)
    assert over.threshold == 2.0 and "outage of 2.20s" in over.detail
    stopped = pg.outage_reading(guard, records, T0 + 7.2, False)
    assert stopped.status == "error" and "not running" in stopped.detail


def test_error_rate_reading_over_its_window_with_a_minimum_of_requests() -> None:
    guard = ErrorRateGuard(name="errors", max=0.2, window_s=2.0, min_requests=5)
    records = [*_steady(5), *(_rec(5 + i * 0.1, ok=False) for i in range(5))]
    reading = pg.error_rate_reading(guard, records, T0 + 5.5, True)
    assert reading.status == "failed"
    assert reading.value == pytest.approx(5 / 20, abs=0.02)  # 2 s window: ~20 requests
    assert pg.error_rate_reading(guard, _steady(5), T0 + 5.0, True).status == "ok"
    few = pg.error_rate_reading(guard, [_rec(0, ok=False)], T0 + 0.5, True)
    assert few.status == "no-data" and "fewer than minRequests 5" in few.detail


# -- HTTP, Prometheus, conditions, halt ---------------------------------------------------------


def test_http_reading() -> None:
    guard = HttpGuard(name="ready", url="http://127.0.0.1:30086/readyz")
    assert pg.http_reading(guard, 200, None).status == "ok"
    assert pg.http_reading(guard, 204, None).status == "ok"
    r = pg.http_reading(guard, 503, None)
    assert (r.status, r.value, r.threshold) == ("failed", 503, "2xx")
    r = pg.http_reading(guard, None, "timed out")
    assert (r.status, r.value) == ("failed", "timed out") and "timed out" in r.detail
    strict = HttpGuard(name="ready", url="http://127.0.0.1/", status=(200, 301))
    assert pg.http_reading(strict, 301, None).status == "ok"
    assert pg.http_reading(strict, 204, None).threshold == "one of 200, 301"


def _vector(*samples: tuple[dict[str, str], str]) -> str:
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": m, "value": [1.5, v]} for m, v in samples]}})


def test_prometheus_samples_vector_scalar_and_nan() -> None:
    body = _vector(({"job": "httpd", "instance": "a"}, "1"), ({"job": "x"}, "NaN"))
    (only,) = pg.prometheus_samples(body)
    assert only.value == 1.0 and only.series() == '{instance="a",job="httpd"}'
    scalar = json.dumps({"status": "success", "data": {"resultType": "scalar",
                                                       "result": [1.5, "0.25"]}})
    assert [s.value for s in pg.prometheus_samples(scalar)] == [0.25]
    inf = _vector(({}, "+Inf"))
    assert pg.prometheus_samples(inf)[0].value == float("inf")


@pytest.mark.parametrize(("body", "message"), [
    ("<html>", "not JSON"),
    ("[]", "not a JSON object"),
    ('{"status":"error","errorType":"bad_data","error":"parse error at char 3"}',
     "bad_data: parse error at char 3"),
    ('{"status":"success","data":{"resultType":"matrix","result":[]}}', "resultType 'matrix'"),
    ('{"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}}',
     "malformed sample"),
    ('{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"x"]}]}}',
     "is not a number"),
])
def test_prometheus_answers_that_are_not_readings(body: str, message: str) -> None:
    with pytest.raises(pg.PromResponseError, match=message):
        pg.prometheus_samples(body)
    guard = PrometheusGuard(name="up", url="http://127.0.0.1:9090", query="up", min=1)
    reading = pg.prometheus_reading(guard, body)
    assert reading.status == "error" and message.split(":")[0] in reading.detail


@pytest.mark.parametrize(("body", "message"), [
    ("[]", "not a JSON object"),
    ('{"status":"error"}', "error: status is not success"),
    ('{"status":"error","errorType":"timeout"}', "timeout: status is not success"),
    ('{"status":"error","error":"too many samples"}', "error: too many samples"),
    ('{"status":"success"}', "no data"),
    ('{"status":"success","data":[]}', "no data"),
    ('{"status":"success","data":{"resultType":"matrix","result":[]}}',
     "resultType 'matrix': the query must give an instant vector or a scalar"),
    ('{"status":"success","data":{"resultType":"vector","result":{}}}',
     "resultType 'vector': the query must give an instant vector or a scalar"),
])
def test_prometheus_refusals_in_full(body: str, message: str) -> None:
    with pytest.raises(pg.PromResponseError) as info:
        pg.prometheus_samples(body)
    assert str(info.value) == message


def test_prometheus_reading_bounds_and_no_data() -> None:
    guard = PrometheusGuard(name="up", url="http://p", query="up", min=1.0)
    assert pg.prometheus_reading(guard, _vector(({"i": "a"}, "1"))).status == "ok"
    low = pg.prometheus_reading(guard, _vector(({"i": "a"}, "1"), ({"i": "b"}, "0")))
    assert (low.status, low.value, low.threshold) == ("failed", 0.0, ">= 1")
    assert '{i="b"}' in low.detail
    band = PrometheusGuard(name="rate", url="http://p", query="q", min=0.0, max=0.05)
    high = pg.prometheus_reading(band, _vector(({}, "0.2")))
    assert (high.status, high.threshold) == ("failed", ">= 0 and <= 0.05")
    assert pg.prometheus_reading(guard, _vector()).status == "no-data"
    strict = PrometheusGuard(name="up", url="http://p", query="up", min=1.0, no_data="abort")
    assert pg.prometheus_reading(strict, _vector()).status == "failed"


def test_condition_reading() -> None:
    guard = KubernetesGuard(name="avail", kind="Deployment", object_name="web",
                            condition="Available")
    assert pg.condition_reading(guard, "ns", {"Available": "True"}).status == "ok"
    off = pg.condition_reading(guard, "ns", {"Available": "False", "Progressing": "True"})
    assert (off.status, off.value, off.threshold) == ("failed", "False", "True")
    assert "Deployment/web in ns condition Available is False" in off.detail
    assert pg.condition_reading(guard, "ns", {}).value == "absent"
    gone = pg.condition_reading(guard, "ns", None)
    assert gone.status == "failed" and "does not exist" in gone.detail


def test_halt_reading() -> None:
    assert pg.halt_reading(None).status == "ok"
    r = pg.halt_reading(HaltMarker(by="ops@box (pid 1)", at=T0, reason="stop"))
    assert r.status == "failed" and r.detail == "halted by ops@box (pid 1) at " \
        "2023-11-14T22:13:20+00:00: stop"


def test_halt_reading_in_full() -> None:
    assert pg.halt_reading(None) == pg.Reading("ok", "absent", "absent", "")
    assert pg.halt_reading(HaltMarker(by="ops@box (pid 1)", at=T0)) == pg.Reading(
        "failed", "ops@box (pid 1)", "absent", "halted by ops@box (pid 1) at "
        "2023-11-14T22:13:20+00:00")


# -- streaks ------------------------------------------------------------------------------------


def test_judge_needs_failures_in_a_row_for_http() -> None:
    guard = HttpGuard(name="ready", url="http://127.0.0.1/", failures=3)
    bad, good = pg.Reading("failed", 503, "2xx", "HTTP 503"), pg.Reading("ok", 200)
    streak, breach = pg.judge(guard, pg.Streak(), bad, T0)
    streak, breach = pg.judge(guard, streak, bad, T0 + 1)
    assert breach is None and streak.failed == 2
    streak, breach = pg.judge(guard, streak, good, T0 + 2)  # a success resets the count
    for i in range(2):
        streak, breach = pg.judge(guard, streak, bad, T0 + 3 + i)
        assert breach is None
    streak, breach = pg.judge(guard, streak, bad, T0 + 5)
    assert breach is not None and breach.at == T0 + 5 and breach.value == 503
    assert breach.detail == "HTTP 503 (3 checks in a row)" and breach.guard == "ready"


def test_judge_unreadable_guards_by_on_error() -> None:
    error = pg.Reading("error", detail="connection refused")
    strict = PrometheusGuard(name="up", url="http://p", query="up", min=1)
    lenient = PrometheusGuard(name="up", url="http://p", query="up", min=1, on_error="ignore")
    streak, s2 = pg.Streak(), pg.Streak()
    for _ in range(ERROR_LIMIT - 1):
        streak, breach = pg.judge(strict, streak, error, T0)
        assert breach is None
    streak, breach = pg.judge(strict, streak, error, T0)
    assert breach is not None and breach.value is None
    assert "could not be evaluated 3 times in a row" in breach.detail
    for _ in range(10):
        s2, breach = pg.judge(lenient, s2, error, T0)
        assert breach is None
    _, none = pg.judge(strict, pg.Streak(errors=2), pg.Reading("ok", 1.0), T0)
    assert none is None


# -- hosts --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "allowed", "ok"), [
    ("http://127.0.0.1:9090", (), True),
    ("http://localhost:9090/x", (), True),
    ("http://[::1]:9090", (), True),
    ("http://LOCALHOST/", (), True),
    ("http://prometheus.example.com", (), False),
    ("http://prometheus.example.com", ("prometheus.example.com",), True),
    ("http://Prometheus.Example.com", ("prometheus.example.com",), True),
    ("http://evil.prometheus.example.com", ("prometheus.example.com",), False),
    ("http://10.0.0.1", ("10.0.0.1",), True),
    ("http://[0:0:0:0:0:0:0:1]/", (), True),
    ("http://127.0.0.2", (), False),
])
def test_host_allowed(url: str, allowed: tuple[str, ...], ok: bool) -> None:
    assert pg.host_allowed(url, allowed) is ok


def test_disallowed_names_each_guard() -> None:
    urls = [("up", "http://127.0.0.1:9090"), ("shop", "https://shop.example.com/h")]
    assert pg.disallowed(urls, ()) == [
        "guard shop: https://shop.example.com/h (host shop.example.com)"]


# -- every reading whole: value, threshold and the words the report and the audit show ----------


def test_every_live_load_reading_whole() -> None:
    R = pg.Reading
    outage = OutageGuard(name="outage", max_s=2.0)
    records = [*_steady(5), *(_rec(5 + i * 0.1, ok=False) for i in range(40))]
    assert pg.outage_reading(outage, records, T0 + 7.2, True) == R(
        "failed", 2.2, 2.0, f"outage of 2.20s going on (since {T0 + 5.0:.3f}) exceeds 2s")
    assert pg.outage_reading(outage, _steady(5), T0 + 5.0, True) == R("ok", 0.0, 2.0)
    assert pg.outage_reading(outage, records, T0 + 7.2, False) == R(
        "error", None, 2.0, "the load generator is not running: no live outage to measure")
    rate = ErrorRateGuard(name="errors", max=0.2, window_s=2.0, min_requests=5)
    # a window of exactly 2 s, both ends in: 21 requests at 0.1 s, the last 5 failed
    window = [*_steady(5), *(_rec(5 + i * 0.1, ok=False) for i in range(5))]
    assert pg.error_rate_reading(rate, window, T0 + 5.4, True) == R(
        "failed", round(5 / 21, 4), 0.2, "error rate 0.238 (5/21) over the last 2s exceeds 0.2")
    assert pg.error_rate_reading(rate, _steady(5), T0 + 4.9, True) == R("ok", 0.0, 0.2)
    assert pg.error_rate_reading(rate, [_rec(0)], T0 + 0.5, True) == R(
        "no-data", None, 0.2, "1 request(s) in the last 2s, fewer than minRequests 5")
    assert pg.error_rate_reading(rate, window, T0 + 5.4, False) == R(
        "error", None, 0.2, "the load generator is not running: no live error rate")


def test_every_http_prometheus_and_condition_reading_whole() -> None:
    R = pg.Reading
    http = HttpGuard(name="ready", url="http://127.0.0.1:30086/readyz")
    assert pg.http_reading(http, 204, None) == R("ok", 204, "2xx")
    assert pg.http_reading(http, 503, None) == R(
        "failed", 503, "2xx", "GET http://127.0.0.1:30086/readyz: HTTP 503, expected 2xx")
    assert pg.http_reading(http, None, None) == R(
        "failed", "no response", "2xx", "GET http://127.0.0.1:30086/readyz: no response")
    assert pg.http_reading(http, 199, None).status == "failed"
    assert pg.http_reading(http, 300, None).status == "failed"
    assert pg.http_reading(http, 299, None).status == "ok"
    band = PrometheusGuard(name="rate", url="http://p", query="q", min=0.0, max=0.05)
    assert pg.prometheus_reading(band, _vector(({"a": "1"}, "0.01"), ({"a": "2"}, "0.03"))) \
        == R("ok", 0.01, ">= 0 and <= 0.05")  # with a min, the lowest sample is shown
    assert pg.prometheus_reading(band, _vector(({"a": "1"}, "0.2"))) == R(
        "failed", 0.2, ">= 0 and <= 0.05", 'q = 0.2 for {a="1"}, must be >= 0 and <= 0.05')
    low = PrometheusGuard(name="up", url="http://p", query="up", min=1.0)
    assert pg.prometheus_reading(low, _vector(({"i": "a"}, "3"), ({"i": "b"}, "2"))) == R(
        "ok", 2.0, ">= 1")  # the lowest, nearest its min
    assert pg.prometheus_reading(low, _vector()) == R(
        "no-data", "no data", ">= 1", "up returned no sample (noData: ignore)")
    only_max = PrometheusGuard(name="lag", url="http://p", query="lag", max=5.0)
    assert pg.prometheus_reading(only_max, _vector(({}, "5"))) == R("ok", 5.0, "<= 5")
    assert pg.prometheus_reading(only_max, "<html>").detail.startswith("lag: not JSON")
    cond = KubernetesGuard(name="avail", kind="Deployment", object_name="web",
                           condition="Available")
    assert pg.condition_reading(cond, "ns", {"Available": "True"}) == R("ok", "True", "True")
    assert pg.condition_reading(cond, None, {}) == R(
        "failed", "absent", "True", "Deployment/web has no Available condition")
    assert pg.condition_reading(cond, "ns", None) == R(
        "failed", "absent", "True", "Deployment/web in ns does not exist")
