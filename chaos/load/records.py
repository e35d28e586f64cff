"""Per-request records and the capture-file format shared with the locust subprocess.

The capture file is written by ``kube_chaos_capture.py`` inside the locust process, one
tab-separated line per request::

    <start wall time, epoch s>\t<latency s>\t<ok 0|1>\t<HTTP status, 0 = no response>\t<error>

Lines starting with ``#`` are comments (the writer puts a format header first).  The reader
tolerates a torn last line, because the harness reads the file while locust is still writing.
"""

from __future__ import annotations

from pathlib import Path

from chaos.model.timeline import RequestRecord

__all__ = [
    "CAPTURE_HEADER",
    "CaptureFormatError",
    "CaptureReader",
    "RequestRecord",  # re-exported: the shared model type
    "parse_capture",
]

CAPTURE_HEADER = "# kube-chaos capture v1: t\tlatency_s\tok\tstatus\terror\n"


class CaptureFormatError(ValueError):
    """A complete capture line that does not follow the format (names file and line)."""


def parse_line(line: str) -> RequestRecord:
    """Parse one capture line (without its newline)."""
    parts = line.split("\t", 4)
    if len(parts) != 5:
        raise ValueError(f"expected 5 tab-separated fields, got {len(parts)}")
    t, latency, ok, status, error = parts
    if ok not in ("0", "1"):
        raise ValueError(f"ok must be 0 or 1, got {ok!r}")
    return RequestRecord(
        t=float(t),
        latency_s=float(latency),
        ok=ok == "1",
        status=int(status),
        error=error or None,
    )


class CaptureReader:
    """Incremental reader: each ``poll()`` parses only what was appended since the last one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._line_no = 0
        self._records: list[RequestRecord] = []

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
        new: list[RequestRecord] = []
        for raw in chunk[: end + 1].decode("utf-8", errors="replace").splitlines():
            self._line_no += 1
            if not raw or raw.startswith("#"):
                continue
            try:
                new.append(parse_line(raw))
            except ValueError as e:
                raise CaptureFormatError(f"{self.path}:{self._line_no}: {e}: {raw!r}") from e
        self._records.extend(new)
        return new


def parse_capture(path: Path) -> list[RequestRecord]:
    """All complete records of a capture file, in file order."""
    reader = CaptureReader(path)
    reader.poll()
    return reader.records
