"""The audit trail of a run: an append-only JSON-lines file next to its report.

Who ran it (user and host), when, against what (context, API server), under which seed (and
reviewed plan, once there is one), and every action and undo with its time. Each line is
flushed and fsync'd as it is written, so the trail survives a crash of the runner; nothing is
ever rewritten. It holds what the journal holds (pod templates included): the file is 0600, and
a directory created for it 0700.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

AUDIT_NAME = "audit.jsonl"
FILE_MODE = 0o600
DIR_MODE = 0o700


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (containers)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


class AuditLog:
    def __init__(self, path: Path, **context: object) -> None:
        self.path = path
        self._context = dict(context)
        self._lock = threading.Lock()

    def write(self, event: str, **fields: object) -> None:
        """Append one line; an audit that cannot be written is an error (OSError), never
        silently skipped."""
        record = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event,
                  **self._context, **fields}
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        with self._lock:
            _make_dirs(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
                    with contextlib.suppress(OSError):  # not ours to change: still written
                        os.fchmod(fd, FILE_MODE)  # an older, world-readable trail
                view = memoryview(line)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)


def _make_dirs(directory: Path) -> None:
    """``directory`` and its missing parents, each one created here 0700."""
    if directory.is_dir():
        return
    _make_dirs(directory.parent)
    try:
        os.mkdir(directory, DIR_MODE)
    except FileExistsError:
        return
    os.chmod(directory, DIR_MODE)


def read_audit(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
