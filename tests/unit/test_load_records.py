"""Capture-file format and the load-target safety check (no subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chaos.errors import ChaosError, SafetyRefused
from chaos.load import CaptureReader, LoadRun, RequestRecord, check_local_target, parse_capture
from chaos.load import runner as load_runner
from chaos.load.records import (
    CAPTURE_HEADER,
    CAPTURE_HEADER_V1,
    CaptureFormatError,
    CaptureRecords,
    UpToMalformed,
    parse_line,
)


def test_parse_line_ok_and_error() -> None:
    assert parse_line("1700000000.250000\t0.012000\t1\t200\t") == RequestRecord(
        t=1700000000.25, latency_s=0.012, ok=True, status=200, error=None
    )
    rec = parse_line("1700000001.5\t5.0\t0\t0\tConnectionError: refused, port 80")
    assert (rec.ok, rec.status, rec.error) == (False, 0, "ConnectionError: refused, port 80")


@pytest.mark.parametrize(
    "line", ["", "1\t2\t1\t200", "x\t0.1\t1\t200\t", "1\t0.1\tyes\t200\t", "1\t0.1\t1\tOK\t"]
)
def test_parse_line_rejects(line: str) -> None:
    with pytest.raises(ValueError):
        parse_line(line)


def test_reader_is_incremental_and_tolerates_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    reader = CaptureReader(path)
    assert reader.poll() == []  # no file yet
    path.write_text(CAPTURE_HEADER_V1 + "10.0\t0.1\t1\t200\t\n11.0\t0.2\t0\t503")
    assert [r.t for r in reader.poll()] == [10.0]  # the torn line waits
    with path.open("a") as f:
        f.write("\tHTTPError: 503\n12.0\t0.1\t1\t200\t\n")
    new = reader.poll()
    assert [(r.t, r.status, r.error) for r in new] == [
        (11.0, 503, "HTTPError: 503"),
        (12.0, 200, None),
    ]
    assert reader.poll() == []
    assert len(reader.records) == 3
    assert parse_capture(path) == reader.records


def test_reader_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_text(CAPTURE_HEADER_V1 + "10.0\t0.1\t1\t200\t\ngarbage\n")
    with pytest.raises(CaptureFormatError, match=r"c\.tsv:3: "):
        parse_capture(path)


def test_a_malformed_line_is_a_chaos_error_quoting_a_short_excerpt(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_text(CAPTURE_HEADER_V1 + "10.0\t0.1\t1\t200\t\n" + "x" * 5000 + "\n")
    with pytest.raises(ChaosError) as info:
        parse_capture(path)
    assert isinstance(info.value, CaptureFormatError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{path}:3: expected 5 tab-separated fields, got 1: 'xxx")
    assert "(5,000 characters)" in str(info.value) and len(str(info.value)) < 250


def test_up_to_malformed_reads_until_the_bad_line_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    good = "".join(f"{t}.0\t\t0.1\t1\t200\t\n" for t in range(10, 14))
    path.write_text(CAPTURE_HEADER + good)
    clean = UpToMalformed(CaptureRecords([path], 4, None))
    whole = list(clean)
    assert [r.t for r in whole] == [10.0, 11.0, 12.0, 13.0] and clean.problem is None
    path.write_text(CAPTURE_HEADER + good[:good.index("12.0")] + "12.0\t\tslow\t1\t200\t\n"
                    + good[good.index("13.0"):])
    records = CaptureRecords([path], 4, None)
    with pytest.raises(CaptureFormatError):  # the records alone stop the reader with an error
        list(records)
    read = UpToMalformed(records)
    assert [r.t for r in read] == [10.0, 11.0]  # up to the line, and no further
    assert read.problem is not None and f"{path}:4: " in str(read.problem)
    assert [r.t for r in read] == [10.0, 11.0]  # every iteration, the same
    assert read.last is None  # what the live reader saw (nothing here)
    assert UpToMalformed(whole).last == whole[-1]  # records that do not know their last: read


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:30080",
        "http://localhost:30080/",
        "https://LOCALHOST",
        "http://[::1]:8080",
    ],
)
def test_local_targets_accepted(url: str) -> None:
    assert not check_local_target(url).endswith("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5:30080",
        "http://example.com",
        "http://127.0.0.1.example.com",
        "http://127.0.0.2",
        "http://0.0.0.0:30080",
        "ftp://127.0.0.1",
        "127.0.0.1:30080",
        "http://user:pw@127.0.0.1",
        "http://127.0.0.1:notaport",
    ],
)
def test_non_local_targets_refused(url: str) -> None:
    with pytest.raises(ValueError, match="load target"):
        check_local_target(url)


def test_refusal_is_a_safety_error() -> None:
    with pytest.raises(SafetyRefused):
        check_local_target("http://example.com")


def test_start_refuses_remote_target_before_launching(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="is not allowed"):
        LoadRun.start("http://192.0.2.10:80", users=1, spawn_rate=1, max_duration_s=1, out_dir=out)
    assert not out.exists()


def test_harness_never_imports_locust() -> None:
    code = "import sys, chaos.load; assert not {'locust', 'gevent'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_subprocess_files_share_the_contract() -> None:
    """The locust-side files cannot import chaos; check the names they share by text."""
    capture = load_runner.CAPTURE_MODULE.read_text()
    default = load_runner.DEFAULT_LOCUSTFILE.read_text()
    assert repr(CAPTURE_HEADER)[1:-1] in capture
    r = load_runner
    for name in (r.ENV_CAPTURE, r.ENV_MAX_REQUESTS, r.ENV_ALLOWED_HOSTS):
        assert f'"{name}"' in capture
    for name in (r.ENV_PATH, r.ENV_WAIT_S, r.ENV_TIMEOUT_S):
        assert f'"{name}"' in default


def test_capture_records_stream_again_at_each_pass_and_skip_a_file_never_written(
        tmp_path: Path) -> None:
    from chaos.load.records import CaptureRecords
    path = tmp_path / "requests.tsv"
    path.write_text(CAPTURE_HEADER + "1.0\t\t0.01\t1\t200\t\n2.0\t\t0.02\t0\t503\tboom\n")
    recs = CaptureRecords([path, tmp_path / "never-written.tsv"], 2, None)
    assert [r.t for r in recs] == [1.0, 2.0] == [r.t for r in recs]  # re-iterable
    assert len(recs) == 2 and recs
    assert list(CaptureRecords([tmp_path / "missing.tsv"], 0, None)) == []
    assert not CaptureRecords([], 0, None)


def test_a_load_run_keeps_only_recent_records_and_streams_the_rest(tmp_path: Path) -> None:
    """The live readers see the last ``recent_s`` seconds; the whole run stays on disk and is
    streamed again by ``records()``, with the count and the last record known."""
    path = tmp_path / "requests.tsv"
    lines = "".join(f"{t:.1f}\t\t0.010\t{int(t % 7 != 0)}\t200\t\n" for t in range(1000))
    path.write_text(CAPTURE_HEADER + lines)
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run = LoadRun([proc], out_dir=tmp_path, log_path=tmp_path / "locust.log",
                  capture_paths=[path], max_duration_s=1, max_requests=None, started_at=0.0)
    run.recent_s = 50.0
    assert [r.t for r in run.records_since(0.0)][:2] == [949.0, 950.0]  # the rest let go
    assert len(run._recent) <= 52
    everything = run.records()
    assert len(everything) == 1000 and everything.last is not None
    assert everything.last.t == 999.0
    assert sum(1 for _ in everything) == 1000 == sum(1 for _ in everything)


def test_live_seconds_cover_every_guard_lookback() -> None:
    from chaos.model.abort import ErrorRateGuard, HttpGuard, OutageGuard
    from chaos.plan.guards import live_seconds
    assert live_seconds([], 3.0) == 3.0
    assert live_seconds([OutageGuard(name="o", max_s=100.0)], 3.0) == 260.0
    assert live_seconds([ErrorRateGuard(name="e", window_s=300.0),
                         HttpGuard(name="h", url="http://127.0.0.1/")], 3.0) == 305.0
