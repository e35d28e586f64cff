"""Per-request records and the capture-file format shared with the locust subprocess.

The capture file is written by ``kube_chaos_capture.py`` inside the locust process, one
tab-separated line per request, after a header line naming the format version.

v2 (written now)::

    <t, epoch s>\t<sent>\t<latency s>\t<ok 0|1>\t<HTTP status, 0 = no response>\t<error>

``sent`` empty: a closed-loop request, ``t`` is when it was sent. ``sent`` a number: an
open-loop arrival, ``t`` is its *intended* start, ``sent`` the actual one and the latency runs
from ``t``. ``sent`` ``-``: an open-loop arrival that was dropped (never sent; a failure).

v1 (still read)::

    <start wall time, epoch s>\t<latency s>\t<ok 0|1>\t<HTTP status>\t<error>

Lines starting with ``#`` are comments; a ``# kube-chaos capture vN`` comment sets the version
of the lines after it (a file without one is v1).  The reader tolerates a torn last line,
because the harness reads the file while locust is still writing.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from chaos.errors import ChaosError, excerpt
from chaos.model.timeline import RequestRecord

__all__ = [
    "CAPTURE_HEADER",
    "CAPTURE_HEADER_V1",
    "CaptureFormatError",
    "CaptureReader",
    "CaptureRecords",
    "RequestRecord",
    "UpToMalformed",  # re-exported: the shared model type
    "iter_capture",
    "iter_captures",
    "parse_capture",
]

CAPTURE_HEADER_V1 = "# kube-chaos capture v1: t\tlatency_s\tok\tstatus\terror\n"
CAPTURE_HEADER = "# kube-chaos capture v2: t\tsent\tlatency_s\tok\tstatus\terror\n"
VERSIONS = (1, 2)
_VERSION = re.compile(r"# kube-chaos capture v(\d+)\b")
_CLOCK = re.compile(r"# clock wall_minus_monotonic=(-?\d+(?:\.\d+)?)")


class CaptureFormatError(ChaosError, ValueError):
    """A complete capture line that does not follow the format (names file and line). A
    ``ValueError`` too, as it was before it became a ``ChaosError``."""


def _ok(ok: str) -> bool:
    if ok not in ("0", "1"):
        raise ValueError(f"ok must be 0 or 1, got {ok!r}")
    return ok == "1"


def parse_line(line: str, version: int = 1) -> RequestRecord:
    """Parse one capture line (without its newline) of the given format version."""
    if version == 1:
        parts = line.split("\t", 4)
        if len(parts) != 5:
            raise ValueError(f"expected 5 tab-separated fields, got {len(parts)}")
        t, latency, ok, status, error = parts
        return RequestRecord(t=float(t), latency_s=float(latency), ok=_ok(ok),
                             status=int(status), error=error or None)
    parts = line.split("\t", 5)
    if len(parts) != 6:
        raise ValueError(f"expected 6 tab-separated fields, got {len(parts)}")
    t, sent, latency, ok, status, error = parts
    record = RequestRecord(
        t=float(t), latency_s=float(latency), ok=_ok(ok), status=int(status),
        error=error or None, scheduled=sent != "", sent=None if sent in ("", "-") else float(sent),
    )
    if record.dropped and record.ok:
        raise ValueError("a dropped arrival (sent '-') cannot be ok")
    return record


def header_version(line: str) -> int | None:
    """The format version a header comment declares; None for any other comment."""
    m = _VERSION.match(line)
    if m is None:
        return None
    version = int(m.group(1))
    if version not in VERSIONS:
        raise ValueError(f"capture format v{version} is not one this kube-chaos reads "
                         f"({', '.join(f'v{v}' for v in VERSIONS)})")
    return version


class CaptureReader:
    """Incremental reader: each ``poll()`` parses only what was appended since the last one.

    ``keep=False`` keeps nothing (``records`` stays empty): for one-pass consumers that only
    want what each poll returns.
    """

    def __init__(self, path: Path, *, keep: bool = True) -> None:
        self.path = path
        self._offset = 0
        self._line_no = 0
        self._version = 1
        self._keep = keep
        self._records: list[RequestRecord] = []
        self.wall_minus_monotonic: float | None = None  # from the writer's clock comment

    @property
    def records(self) -> list[RequestRecord]:
        """Everything parsed so far, in file (completion) order; do not mutate."""
        return self._records

    def poll(self) -> list[RequestRecord]:
        """Read complete lines appended since the last poll; return the new records."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # nothing, or only a torn line still being written
        self._offset += end + 1
        new = list(self._parse(chunk[: end + 1].decode("utf-8", errors="replace").splitlines()))
        if self._keep:
            self._records.extend(new)
        return new

    def _parse(self, lines: list[str]) -> Iterator[RequestRecord]:
        for raw in lines:
            self._line_no += 1
            if not raw:
                continue
            try:
                if raw.startswith("#"):
                    version = header_version(raw)
                    if version is not None:
                        self._version = version
                    clock = _CLOCK.match(raw)
                    if clock is not None:
                        self.wall_minus_monotonic = float(clock.group(1))
                    continue
                yield parse_line(raw, self._version)
            except ValueError as e:
                raise CaptureFormatError(f"{self.path}:{self._line_no}: {e}: {excerpt(raw)}") from e


def iter_capture(path: Path, chunk_bytes: int = 1 << 20) -> Iterator[RequestRecord]:
    """Every complete record of a capture file, in file order, read in chunks and never held:
    memory stays flat however long the run was."""
    reader = CaptureReader(path, keep=False)
    with path.open("rb") as f:
        rest = b""
        while True:
            chunk = f.read(chunk_bytes)
            if not chunk:
                break
            data = rest + chunk
            end = data.rfind(b"\n")
            if end < 0:
                rest = data
                continue
            rest = data[end + 1:]
            yield from reader._parse(data[: end + 1].decode("utf-8", errors="replace")
                                     .splitlines())


def iter_captures(paths: Sequence[Path]) -> Iterator[RequestRecord]:
    """The records of several capture files (one per load process) on one timeline, in the
    order they ended, streamed: each file is in completion order, so a k-way merge is exact."""
    if len(paths) == 1:
        return iter_capture(paths[0])
    return heapq.merge(*(iter_capture(p) for p in paths), key=lambda r: r.end)


class CaptureRecords:
    """A run's records as capture files on disk: each iteration streams them again (merged in
    completion order, see ``iter_captures``), so holding this holds no record. ``count`` and
    ``last`` (the last record in completion order) come from whoever read the files live."""

    __slots__ = ("count", "last", "paths")

    def __init__(self, paths: Sequence[Path], count: int,
                 last: RequestRecord | None) -> None:
        self.paths = tuple(paths)
        self.count = count
        self.last = last

    def __iter__(self) -> Iterator[RequestRecord]:
        # a load process that never wrote its file (it failed to start) recorded nothing
        present = [p for p in self.paths if p.exists()]
        return iter_captures(present) if present else iter(())

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def __repr__(self) -> str:
        return f"CaptureRecords({len(self.paths)} file(s), {self.count} records)"


class UpToMalformed:
    """A run's records up to the first malformed capture line: each iteration stops there and
    keeps the ``CaptureFormatError`` in ``problem``. The run's figures and its report are then
    made of what was read, and the run names the line as its error, instead of the error
    escaping the evaluation and costing the report."""

    __slots__ = ("problem", "records")

    def __init__(self, records: Iterable[RequestRecord]) -> None:
        self.records = records
        self.problem: CaptureFormatError | None = None

    def __iter__(self) -> Iterator[RequestRecord]:
        try:
            yield from self.records
        except CaptureFormatError as exc:
            if self.problem is None:
                self.problem = exc

    @property
    def last(self) -> RequestRecord | None:
        """The last record in completion order: as the live reader saw it, or read."""
        if isinstance(self.records, CaptureRecords):
            return self.records.last
        last = None
        for last in self:  # noqa: B007  # the loop keeps the last one
            pass
        return last


def parse_capture(path: Path) -> list[RequestRecord]:
    """All complete records of a capture file, in file order."""
    reader = CaptureReader(path)
    reader.poll()
    return reader.records
