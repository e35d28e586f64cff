"""Abort guards at their edges: defaults of the live outage, the outage bound given, requests
at the instant of the last served one, the minimum of requests reached exactly, figures
rounded for the report, streaks mixing failures and errors, and hosts written oddly."""

from __future__ import annotations

import pytest

from chaos.model.abort import (
    ERROR_LIMIT,
    Breach,
    ErrorRateGuard,
    HttpGuard,
    OutageGuard,
    PrometheusGuard,
)
from chaos.model.timeline import RequestRecord
from chaos.plan import guards as pg

T0 = 1_700_000_000.0
R = pg.Reading


def _rec(t: float, ok: bool = True, latency: float = 0.01) -> RequestRecord:
    return RequestRecord(t=T0 + t, latency_s=latency, ok=ok, status=200 if ok else 503)


def _steady(until: float, step: float = 0.1) -> list[RequestRecord]:
    return [_rec(i * step) for i in range(round(until / step))]


# -- live outage -------------------------------------------------------------------------------


def test_without_a_wait_silence_counts_from_the_last_end() -> None:
    records = [_rec(0.0, latency=0.5)]  # ended at 0.5, then nothing completes
    assert pg.live_outage(records, T0 + 2.0) == (1.5, T0 + 0.5)
    guard = OutageGuard(name="outage", max_s=1.0)
    assert pg.outage_reading(guard, records, T0 + 2.0, True) == R(
        "failed", 1.5, 1.0, f"outage of 1.50s going on (since {T0 + 0.5:.3f}) exceeds 1s")


def test_an_outage_with_nothing_served_yet_runs_from_the_first_failure() -> None:
    records = [_rec(0.0, ok=False), _rec(0.1, ok=False)]
    assert pg.live_outage(records, T0 + 0.5) == (0.5, T0)


def test_the_outage_bound_given_decides_what_was_served() -> None:
    records = [*_steady(5), _rec(5.0, latency=0.75)]  # answered, but after 0.75 s
    assert pg.live_outage(records, T0 + 6.0, stall_s=0.5) == (1.0, T0 + 5.0)
    assert pg.live_outage(records, T0 + 6.0) == (0.0, None)  # within the default 1 s


def test_a_failure_started_with_the_last_served_request_opens_no_outage() -> None:
    records = [_rec(0.0), _rec(0.0, ok=False)]
    assert pg.live_outage(records, T0 + 0.5) == (0.0, None)


def test_outage_readings_are_rounded_to_the_millisecond() -> None:
    guard = OutageGuard(name="outage", max_s=2.0)
    records = [*_steady(5), *(_rec(5 + i * 0.1, ok=False) for i in range(40))]
    assert pg.outage_reading(guard, records, T0 + 6.5004, True) == R("ok", 1.5, 2.0)
    assert pg.outage_reading(guard, records, T0 + 7.2004, True) == R(
        "failed", 2.2, 2.0, f"outage of 2.20s going on (since {T0 + 5.0:.3f}) exceeds 2s")


# -- error rate --------------------------------------------------------------------------------


def test_exactly_min_requests_is_enough_to_judge() -> None:
    guard = ErrorRateGuard(name="errors", max=0.2, window_s=2.0, min_requests=5)
    records = [_rec(i * 0.1) for i in range(5)]
    assert pg.error_rate_reading(guard, records, T0 + 0.5, True) == R("ok", 0.0, 0.2)


def test_error_rates_are_rounded_to_four_places() -> None:
    guard = ErrorRateGuard(name="errors", max=0.2, window_s=10.0, min_requests=1)
    third = [_rec(0.0, ok=False), _rec(0.1), _rec(0.2)]
    assert pg.error_rate_reading(guard, third, T0 + 1.0, True) == R(
        "failed", 0.3333, 0.2, "error rate 0.333 (1/3) over the last 10s exceeds 0.2")
    thirtieth = [_rec(0.0, ok=False), *(_rec(0.1 * i) for i in range(1, 30))]
    assert pg.error_rate_reading(guard, thirtieth, T0 + 3.0, True) == R("ok", 0.0333, 0.2)


# -- Prometheus --------------------------------------------------------------------------------


def test_an_unreadable_answer_keeps_the_guards_bounds() -> None:
    guard = PrometheusGuard(name="up", url="http://p", query="up", min=1.0)
    reading = pg.prometheus_reading(guard, '{"status":"success"}')
    assert reading == R("error", None, ">= 1", "up: no data")


def test_with_only_a_max_the_highest_sample_is_shown() -> None:
    guard = PrometheusGuard(name="lag", url="http://p", query="lag", max=5.0)
    body = ('{"status":"success","data":{"resultType":"vector","result":['
            '{"metric":{"i":"a"},"value":[1,"3"]},{"metric":{"i":"b"},"value":[1,"4"]}]}}')
    assert pg.prometheus_reading(guard, body) == R("ok", 4.0, "<= 5")


# -- streaks -----------------------------------------------------------------------------------


def test_two_failures_in_a_row_say_so() -> None:
    guard = HttpGuard(name="ready", url="http://127.0.0.1/", failures=2)
    bad = R("failed", 503, "2xx", "HTTP 503")
    streak, _ = pg.judge(guard, pg.Streak(), bad, T0)
    _, breach = pg.judge(guard, streak, bad, T0 + 1)
    assert breach == Breach("ready", "http", 503, "2xx", "HTTP 503 (2 checks in a row)", T0 + 1)


def test_an_unreadable_check_between_failures_keeps_their_count() -> None:
    guard = HttpGuard(name="ready", url="http://127.0.0.1/", failures=2)
    bad, unreadable = R("failed", 503, "2xx", "HTTP 503"), R("error", detail="refused")
    streak, _ = pg.judge(guard, pg.Streak(), bad, T0)
    streak, breach = pg.judge(guard, streak, unreadable, T0 + 1)
    assert (streak, breach) == (pg.Streak(failed=1, errors=1), None)
    _, breach = pg.judge(guard, streak, bad, T0 + 2)
    assert breach == Breach("ready", "http", 503, "2xx", "HTTP 503 (2 checks in a row)", T0 + 2)


def test_an_unreadable_guards_breach_keeps_its_threshold() -> None:
    guard = PrometheusGuard(name="up", url="http://p", query="up", min=1)
    error = R("error", threshold=">= 1", detail="refused")
    _, breach = pg.judge(guard, pg.Streak(errors=ERROR_LIMIT - 1), error, T0)
    assert breach == Breach("up", "prometheus", None, ">= 1", "could not be evaluated 3 times "
                            "in a row (onError: abort): refused", T0)


# -- hosts -------------------------------------------------------------------------------------


def test_an_allowed_ipv6_host_may_be_written_in_brackets() -> None:
    assert pg.host_allowed("http://[fd00::1]:9090/", ("[fd00::1]",))


@pytest.mark.parametrize("spelling", ["fd00:0:0:0:0:0:0:1", "FD00::0001"])
def test_an_ip_literal_matches_its_spelling_among_any_number_of_names(spelling: str) -> None:
    names = (*(f"host{i}.example.com" for i in range(500)), spelling)
    assert pg.host_allowed("http://[fd00::1]:9090/", names)


def test_a_url_without_a_host_is_named_with_a_question_mark() -> None:
    assert pg.disallowed([("scrape", "http:///metrics")], ()) == [
        "guard scrape: http:///metrics (host ?)"]
