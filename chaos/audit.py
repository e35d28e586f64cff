"""The audit trail of a run: an append-only JSON-lines file next to its report.

Who ran it (user and host), when, against what (context, API server), under which seed (and
reviewed plan, once there is one), and every action and undo with its time. Each line is
flushed and fsync'd as it is written, so the trail survives a crash of the runner; nothing is
ever rewritten.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

AUDIT_NAME = "audit.jsonl"


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
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(line)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)


def read_audit(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
