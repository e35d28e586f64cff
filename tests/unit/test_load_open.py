"""Open-loop load: the arrival schedule, the v2 capture format, the experiment fields, and the
figures over intended starts (pure, no subprocess)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import yaml

from chaos.errors import ExperimentInvalid
from chaos.load.arrivals import check_segments, offsets, total_rate
from chaos.load.records import (
    CAPTURE_HEADER,
    CAPTURE_HEADER_V1,
    CaptureFormatError,
    iter_capture,
    parse_capture,
    parse_line,
)
from chaos.load.runner import worker_shares
from chaos.model.parse import parse_experiment
from chaos.model.rate import parse_arrival_rate
from chaos.model.timeline import RequestRecord
from chaos.plan import timeline as tl

# -- the schedule ------------------------------------------------------------------------------


def test_constant_rate_is_evenly_spaced() -> None:
    got = list(offsets([(200.0, 200.0, None)], until_s=1.0))
    assert len(got) == 200
    assert got[:3] == pytest.approx([0.0, 0.005, 0.010])
    assert all(b - a == pytest.approx(0.005) for a, b in itertools.pairwise(got))


def test_limit_and_until_bound_the_schedule() -> None:
    assert len(list(offsets([(100.0, 100.0, None)], until_s=10.0, limit=7))) == 7
    assert max(offsets([(100.0, 100.0, None)], until_s=0.5)) < 0.5


def test_ramp_counts_follow_the_integral_of_the_rate() -> None:
    # 0 -> 100/s over 10 s: 500 arrivals in the ramp, a quarter of them in its first half
    segs = [(0.0, 100.0, 10.0), (100.0, 100.0, None)]
    got = list(offsets(segs, until_s=12.0))
    assert sum(1 for t in got if t < 5.0) == pytest.approx(125, abs=1)
    assert sum(1 for t in got if t < 10.0) == pytest.approx(500, abs=1)
    assert sum(1 for t in got if 10.0 <= t < 12.0) == pytest.approx(200, abs=1)
    assert got == sorted(got)
    assert total_rate(segs, 5.0) == pytest.approx(50.0)


def test_steps_change_the_rate_at_their_boundaries() -> None:
    segs = [(10.0, 10.0, 2.0), (50.0, 50.0, None)]
    got = list(offsets(segs, until_s=3.0))
    assert sum(1 for t in got if t < 2.0) == 20
    assert sum(1 for t in got if 2.0 <= t < 3.0) == 50


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_workers_split_one_schedule_exactly(workers: int) -> None:
    segs = [(0.0, 300.0, 2.0), (300.0, 300.0, None)]
    whole = list(offsets(segs, until_s=5.0))
    parts = [list(offsets(segs, worker=i, workers=workers, until_s=5.0)) for i in range(workers)]
    assert sorted(t for p in parts for t in p) == whole
    assert [len(p) for p in parts] == [len(whole[i::workers]) for i in range(workers)]


@pytest.mark.parametrize(
    "segs",
    [[], [(10.0, 10.0, None), (5.0, 5.0, None)], [(-1.0, 1.0, 2.0)], [(1.0, 2.0, None)],
     [(10.0, 10.0, 0.0)], [(0.0, 0.0, None)], [(math.inf, 1.0, 1.0)]],
)
def test_bad_schedules_are_refused(segs: list[tuple[float, float, float | None]]) -> None:
    with pytest.raises(ValueError):
        check_segments(segs)


def test_worker_shares_add_up() -> None:
    assert worker_shares(10, 3) == [4, 3, 3]
    assert worker_shares(None, 2) == [None, None]
    assert sum(s or 0 for s in worker_shares(1001, 4)) == 1001


# -- the capture format ------------------------------------------------------------------------


def test_v2_lines_closed_open_and_dropped() -> None:
    closed = parse_line("10.5\t\t0.01\t1\t200\t", 2)
    assert (closed.t, closed.scheduled, closed.sent, closed.dropped) == (10.5, False, None, False)
    arrival = parse_line("10.0\t10.25\t0.3\t1\t200\t", 2)
    assert (arrival.scheduled, arrival.sent, arrival.latency_s, arrival.end) == (
        True, 10.25, 0.3, 10.3)
    dropped = parse_line("11.0\t-\t0.1\t0\t0\tDropped: no free sender", 2)
    assert dropped.dropped and not dropped.ok and dropped.error == "Dropped: no free sender"


@pytest.mark.parametrize("line", ["1\t\t0.1\t1\t200", "1\tx\t0.1\t1\t200\t",
                                  "1\t-\t0.1\t1\t200\t"])
def test_v2_bad_lines(line: str) -> None:
    with pytest.raises(ValueError):
        parse_line(line, 2)


def test_files_of_both_versions_are_read(tmp_path: Path) -> None:
    v1 = tmp_path / "v1.tsv"
    v1.write_text(CAPTURE_HEADER_V1 + "10.0\t0.1\t1\t200\t\n")
    assert parse_capture(v1) == [RequestRecord(10.0, 0.1, True, 200)]
    v2 = tmp_path / "v2.tsv"
    v2.write_text(CAPTURE_HEADER + "10.0\t10.1\t0.2\t1\t200\t\n")
    assert parse_capture(v2) == [RequestRecord(10.0, 0.2, True, 200, None, True, 10.1)]
    # a v1 line under a v2 header is a format error naming file and line
    bad = tmp_path / "bad.tsv"
    bad.write_text(CAPTURE_HEADER + "10.0\t0.1\t1\t200\t\n")
    with pytest.raises(CaptureFormatError, match=r"bad\.tsv:2: "):
        parse_capture(bad)


def test_an_unknown_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v9.tsv"
    path.write_text("# kube-chaos capture v9: whatever\n1\t2\n")
    with pytest.raises(CaptureFormatError, match=r"v9\.tsv:1: capture format v9"):
        parse_capture(path)


def test_iter_capture_streams_the_same_records(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    lines = [f"{i}.0\t{i}.001\t0.01\t{i % 2}\t200\t\n" for i in range(1000)]
    path.write_text(CAPTURE_HEADER + "".join(lines) + "99999.0\t")  # a torn last line
    assert list(iter_capture(path, chunk_bytes=97)) == parse_capture(path)


# -- the experiment fields --------------------------------------------------------------------

OPEN_LOAD = """  load:
    mode: open
    rate: 200/s
    warmup: 5s
    tail: 10s
    maxDuration: 90s
    timeout: 1s
"""


def _open(good: str, load: str = OPEN_LOAD) -> str:
    head, rest = good.split("  load:\n", 1)
    tail = rest[rest.index("  steadyState:"):]
    return head + load + tail


def test_open_mode_parses(good: str, exp_dir: Path) -> None:
    exp = parse_experiment(_open(good), exp_dir / "x.yaml")
    assert exp.load.mode == "open"
    assert exp.load.rate_segments == ((200.0, 200.0, None),)
    assert exp.load.timeout_s == 1.0 and exp.load.drop_after_s == 0.5


def test_ramp_and_steps_make_segments(good: str, exp_dir: Path) -> None:
    load = OPEN_LOAD.replace("    rate: 200/s\n", "    rampUp: 4s\n    steps: [{rate: 50, "
                             "duration: 2s}, {rate: 6000/m, duration: 3s}]\n    rate: 300/s\n")
    exp = parse_experiment(_open(good, load), exp_dir / "x.yaml")
    assert exp.load.rate_segments == ((0.0, 50.0, 4.0), (50.0, 50.0, 2.0), (100.0, 100.0, 3.0),
                                      (300.0, 300.0, None))


def test_steps_without_a_rate_hold_the_last_steps_rate_after_a_short_ramp(
        good: str, exp_dir: Path) -> None:
    load = OPEN_LOAD.replace("    rate: 200/s\n", "    rampUp: 500ms\n    steps: [{rate: 50, "
                             "duration: 2s}, {rate: 80, duration: 1s}]\n")
    exp = parse_experiment(_open(good, load), exp_dir / "x.yaml")
    assert exp.load.rate_segments == ((0.0, 50.0, 0.5), (50.0, 50.0, 2.0), (80.0, 80.0, 1.0),
                                      (80.0, 80.0, None))


@pytest.mark.parametrize(("new", "message"), [
    ("", "x.yaml:15: spec.load.rate: mode: open needs an arrival rate (e.g. rate: 200/s) or steps"),
    ("    steps: []\n", "x.yaml:16: spec.load.steps: expected a non-empty list"),
])
def test_open_load_without_any_rate_is_refused_in_full(good: str, exp_dir: Path, new: str,
                                                       message: str) -> None:
    text = _open(good).replace("    rate: 200/s\n", new, 1)
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment(text, exp_dir / "x.yaml")
    assert str(info.value).replace(str(exp_dir / "x.yaml"), "x.yaml") == message


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    rate: 200/s\n", "    rate: fast\n",
         "x.yaml:16: spec.load.rate: expected an arrival rate such as 200/s, 6000/m or 50, "
         "got 'fast'"),
        ("    rate: 200/s\n", "    rate: 0/s\n", "x.yaml:16: spec.load.rate: expected an "
         "arrival rate"),
        ("    rate: 200/s\n", "", "spec.load.rate: mode: open needs an arrival rate"),
        ("    mode: open\n", "    mode: opne\n",
         "x.yaml:15: spec.load.mode: expected closed or open, got 'opne' (did you mean 'open'?)"),
        ("    rate: 200/s\n", "    rate: 200/s\n    users: 10\n",
         "x.yaml:17: spec.load.users: only meaningful with mode: closed (open mode sends "
         "arrivals at `rate`, not from users)"),
        ("    rate: 200/s\n", "    rate: 200/s\n    steps: [{rate: 5/s}]\n",
         "x.yaml:17: spec.load.steps[0].duration: required field missing"),
        ("    rate: 200/s\n", "    rate: 200/s\n    workers: 0\n",
         "x.yaml:17: spec.load.workers: expected a number of worker processes from 1 to 64"),
    ],
)
def test_bad_open_load_names_file_line_and_field(good: str, exp_dir: Path, old: str, new: str,
                                                 message: str) -> None:
    text = _open(good).replace(old, new, 1)
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment(text, exp_dir / "x.yaml")
    assert message in str(info.value).replace(str(exp_dir / "x.yaml"), "x.yaml")


def test_open_only_fields_are_refused_in_closed_mode(good: str, exp_dir: Path) -> None:
    text = good.replace("    wait: 50ms\n", "    wait: 50ms\n    rate: 100/s\n")
    with pytest.raises(ExperimentInvalid, match=r"spec.load.rate: only meaningful with mode: "
                                                r"open"):
        parse_experiment(text, exp_dir / "x.yaml")


def test_schema_agrees_on_open_mode(good: str) -> None:
    import json

    import jsonschema

    from chaos.model.schema import SCHEMA_PATH

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    assert validator.is_valid(yaml.safe_load(_open(good)))
    assert not validator.is_valid(yaml.safe_load(_open(good).replace("rate: 200/s", "rate: x")))
    assert not validator.is_valid(yaml.safe_load(good.replace("    wait: 50ms\n",
                                                              "    wait: 50ms\n    rate: 9\n")))
    assert not validator.is_valid(yaml.safe_load(
        _open(good).replace("    rate: 200/s\n", "    rate: 200/s\n    users: 3\n")))


@pytest.mark.parametrize(("text", "per_s"), [("200/s", 200.0), ("6000/m", 100.0),
                                             ("36000/h", 10.0), ("2.5", 2.5), (7, 7.0)])
def test_rates(text: object, per_s: float) -> None:
    assert parse_arrival_rate(text) == pytest.approx(per_s)


def test_a_rate_below_one_per_second_is_a_rate() -> None:
    assert (parse_arrival_rate("30/m"), parse_arrival_rate(0.5)) == (0.5, 0.5)


@pytest.mark.parametrize(("value", "message"), [
    (True, "not a rate: True"),
    ("fast", "not a rate: 'fast'"),
    ([1], "not a rate: [1]"),
    ("0/s", "not a rate above zero: '0/s'"),
    (-2, "not a rate above zero: -2"),
    ("nan", "not a rate above zero: 'nan'"),
    ("inf", "not a rate above zero: 'inf'"),
])
def test_rates_refused_in_full(value: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_arrival_rate(value)
    assert str(info.value) == message


# -- figures over intended starts ---------------------------------------------------------------


def _arrival(t: float, latency: float, ok: bool = True, sent: float | None = None,
             dropped: bool = False) -> RequestRecord:
    return RequestRecord(t, latency, ok, 200 if ok else 0, None if ok else "x", True,
                         None if dropped else (t if sent is None else sent))


def test_open_loop_arrivals_answered_after_the_bound_are_unserved_like_closed_ones() -> None:
    # deliberately changed (issue 18): an arrival that waited 3 s for a success was counted
    # served ("no stall heuristic"), so a 3 s hang under a 5 s timeout showed no outage at all
    slow_closed = RequestRecord(1.0, 3.0, True, 200)
    slow_arrival = _arrival(1.0, 3.0)
    assert not tl.served(slow_closed) and not tl.served(slow_arrival)
    assert tl.served(_arrival(1.0, 0.99)) and tl.served(slow_arrival, stall_s=3.5)
    assert not tl.served(_arrival(2.0, 0.1, ok=False, dropped=True))


def test_outage_runs_from_intended_starts() -> None:
    # 10/s; arrivals due from 1.0 to 2.9 fail (two were dropped), then service resumes
    recs = [_arrival(i / 10, 0.01) for i in range(10)]
    recs += [_arrival(i / 10, 1.0, ok=False, dropped=i % 7 == 0) for i in range(10, 30)]
    recs += [_arrival(i / 10, 0.01) for i in range(30, 40)]
    out = tl.outages(recs)
    assert len(out) == 1
    assert (out[0].start, out[0].end, out[0].failures) == pytest.approx((1.0, 3.0, 20))
    assert tl.error_rate(recs, 1.0, 3.0) == 1.0
    assert tl.error_rate(recs) == pytest.approx(0.5)


def test_percentiles_include_the_wait_for_a_sender() -> None:
    # sent 190 ms late, served in 10 ms: the user waited 200 ms
    recs = [_arrival(float(i), 0.2, sent=i + 0.19) for i in range(5)]
    assert tl.latency_percentile(recs, 99) == pytest.approx(0.2)


def test_open_loop_subprocess_files_share_the_contract() -> None:
    """openloop.py and the capture module cannot import chaos: check the names they share."""
    from chaos.load import runner as r

    openloop = r.OPEN_LOOP_LOCUSTFILE.read_text()
    capture = r.CAPTURE_MODULE.read_text()
    for name in (r.ENV_SEGMENTS, r.ENV_RUN_S, r.ENV_WORKER, r.ENV_WORKERS, r.ENV_MAX_IN_FLIGHT,
                 r.ENV_DROP_AFTER_S, r.ENV_MAX_REQUESTS, r.ENV_PATH, r.ENV_TIMEOUT_S):
        assert f'"{name}"' in openloop, name
    for ctx in ('CTX_INTENDED = "kube_chaos_intended"', 'CTX_DROPPED = "kube_chaos_dropped"'):
        assert ctx in openloop and ctx in capture
