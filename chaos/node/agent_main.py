"""kube-chaos's node agent: the program in the agent image (standard library only, and no
``chaos`` import: it is copied into the image alone, by chaos.cluster.agent_image).

One privileged pod per node runs ``serve``; the runner reaches it only through the API
server's exec (chaos.node.agent.AgentRuntime), running the other subcommands in it:

* ``exec [--stdin-b64 B] -- ARGV``: ARGV in the node's host namespaces (``nsenter -t 1 -a``),
  with ``B`` (base64) as its standard input: an exec's stdin cannot be closed on every API
  server, and ``nft -f -`` reads to its end.
* ``renew SECONDS``: the run's lease lasts SECONDS more, counted on this node's clock.
* ``arm ID [--stdin-b64 B] -- ARGV``: if the lease runs out, run ARGV (in the host namespaces)
  to undo a fault; registered before the fault acts.
* ``disarm ID``: the runner undid that fault itself.
* ``status``: the lease and the armed undos, as JSON.

The dead man's switch is ``serve``'s loop: once a lease was taken and is not renewed in time,
every armed undo runs, newest first, each logged (the pod's log: ``kubectl logs``), and the
lease is dropped until a runner takes one again.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

STATE_DIR = Path(os.environ.get("KUBE_CHAOS_AGENT_STATE", "/run/kube-chaos-agent"))
HOST = ("nsenter", "-t", "1", "-a", "--")
TICK_S = 0.5
UNDO_TIMEOUT_S = 30.0

Runner = Callable[[Sequence[str], "str | None"], "tuple[int, str]"]


def host_run(argv: Sequence[str], stdin: str | None) -> tuple[int, str]:
    """Run ``argv`` in the node's host namespaces; (exit code, what it said)."""
    try:
        proc = subprocess.run([*HOST, *argv], input=stdin, capture_output=True, text=True,
                              timeout=UNDO_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 125, str(exc)
    return proc.returncode, (proc.stderr.strip() or proc.stdout.strip())


class Switch:
    """The lease and the armed undos, kept as files in ``state`` (each subcommand is a process
    of its own); ``clock`` is wall-clock seconds (a fake one in the tests)."""

    def __init__(self, state: Path, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.clock = clock
        self.lease_file = state / "lease.json"
        self.armed_dir = state / "armed"

    def _write(self, path: Path, data: object) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)

    def renew(self, seconds: float) -> float:
        """The lease now ends ``seconds`` from now; returns that time."""
        until = self.clock() + seconds
        self._write(self.lease_file, {"until": until, "seconds": seconds,
                                      "renewed": self.clock()})
        return until

    def lease(self) -> dict[str, float] | None:
        try:
            data = json.loads(self.lease_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("until"), float | int) \
            else None

    def arm(self, key: str, argv: Sequence[str], stdin: str | None = None) -> None:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"bad undo id {key!r}")
        self._write(self.armed_dir / f"{key}.json",
                    {"id": key, "argv": list(argv), "stdin": stdin, "armed": self.clock()})

    def disarm(self, key: str) -> bool:
        try:
            (self.armed_dir / f"{key}.json").unlink()
        except FileNotFoundError:
            return False
        return True

    def armed(self) -> list[dict[str, object]]:
        """The armed undos, oldest first."""
        found = []
        for path in self.armed_dir.glob("*.json"):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(data.get("argv"), list):
                found.append(data)
        return sorted(found, key=lambda d: (float(d.get("armed") or 0), str(d.get("id"))))

    def expired(self) -> bool:
        lease = self.lease()
        return lease is not None and self.clock() > float(lease["until"])

    def tick(self, run: Runner = host_run) -> list[str]:
        """If the lease ran out: run every armed undo, newest first, drop the lease and
        return what was done, one line each (nothing when the lease holds or none was taken)."""
        if not self.expired():
            return []
        lease = self.lease() or {}
        undos = self.armed()
        late = self.clock() - float(lease.get("until", 0))
        lines = [f"lease expired {late:.1f}s ago (not renewed for "
                 f"{float(lease.get('seconds', 0)):g}s): undoing {len(undos)} fault(s)"]
        for undo in reversed(undos):
            raw = undo["argv"]
            argv = [str(a) for a in raw] if isinstance(raw, list) else []
            stdin = undo.get("stdin")
            code, said = run(argv, stdin if isinstance(stdin, str) else None)
            lines.append(f"undo {undo.get('id')}: {' '.join(argv)} -> exit {code}"
                         + (f": {said[:300]}" if said else ""))
            self.disarm(str(undo.get("id")))
        self.lease_file.unlink(missing_ok=True)
        return lines


def serve(switch: Switch, tick_s: float = TICK_S) -> None:
    print(f"kube-chaos node agent: state in {switch.state}", flush=True)
    while True:
        for line in switch.tick():
            print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}", flush=True)
        time.sleep(tick_s)


def _stdin(b64: str | None) -> str | None:
    return base64.b64decode(b64).decode() if b64 is not None else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kube-chaos-agent")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("serve")
    p_exec = sub.add_parser("exec")
    p_exec.add_argument("--stdin-b64")
    p_exec.add_argument("argv", nargs="+")
    p_renew = sub.add_parser("renew")
    p_renew.add_argument("seconds", type=float)
    p_arm = sub.add_parser("arm")
    p_arm.add_argument("id")
    p_arm.add_argument("--stdin-b64")
    p_arm.add_argument("argv", nargs="+")
    p_disarm = sub.add_parser("disarm")
    p_disarm.add_argument("id")
    sub.add_parser("status")
    args = parser.parse_args(argv)
    switch = Switch(STATE_DIR)
    if args.cmd == "serve":
        serve(switch)
    if args.cmd == "exec":
        proc = subprocess.run([*HOST, *args.argv], input=_stdin(args.stdin_b64), text=True,
                              check=False)
        return proc.returncode
    if args.cmd == "renew":
        print(switch.renew(args.seconds))
    elif args.cmd == "arm":
        switch.arm(args.id, args.argv, _stdin(args.stdin_b64))
    elif args.cmd == "disarm":
        switch.disarm(args.id)
    elif args.cmd == "status":
        print(json.dumps({"lease": switch.lease(), "armed": switch.armed()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
