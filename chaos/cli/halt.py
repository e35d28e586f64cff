"""`kube-chaos halt`: the kill switch. Stops every kube-chaos run on a cluster, from any machine.

It writes the cluster's halt marker (chaos.k8s.halt); every running experiment's built-in
halt guard sees it within a quarter second and undoes its faults at once (verdict `aborted`), and
no experiment starts until `kube-chaos halt --clear`. Halting is always safe, so it works on
any cluster the kubeconfig reaches, provisioned by kube-chaos or not.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from chaos.errors import ClusterError


def _candidates() -> list[Path]:
    """Kubeconfigs to look in, in order: $KUBECONFIG's files, ~/.kube/config, then those of
    the kind clusters kube-chaos provisioned on this machine."""
    from chaos.cluster.cache import cache_root

    found: list[Path] = []
    env = os.environ.get("KUBECONFIG", "")
    found += [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    found.append(Path("~/.kube/config").expanduser())
    found += sorted((cache_root() / "clusters").glob("*/kubeconfig"))
    return [p for p in found if p.is_file()]


def resolve_kubeconfig(kubeconfig: str | None, context: str | None) -> Path | None:
    """The kubeconfig to use: the one given, else the first candidate that has ``context``
    (or the first one at all without a context). None: use the client's default."""
    if kubeconfig:
        return Path(kubeconfig).expanduser()
    from chaos.k8s.client import contexts_of

    for path in _candidates():
        if context is None or context in contexts_of(path):
            return path
    return None


def whoami() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} (pid {os.getpid()})"


def cmd_halt(args: argparse.Namespace) -> int:
    from chaos.k8s import halt as khalt
    from chaos.k8s.client import connect
    from chaos.model.abort import HaltMarker

    path = resolve_kubeconfig(args.kubeconfig, args.context)
    kube = connect(path, args.context)
    where = f"context {kube.context}" + (f" ({path})" if path else "")
    clear_hint = f"kube-chaos halt --clear --context {kube.context}"
    if args.status:
        marker = khalt.read_halt(kube)
        if marker is None:
            print(f"{where}: not halted")
            return 0
        print(f"{where}: {marker.describe()}; clear with `{clear_hint}`")
        return 1
    if args.clear:
        was = khalt.clear_halt(kube)
        if was is None:
            print(f"{where}: was not halted; nothing to clear")
        else:
            print(f"{where}: halt cleared (it said: {was.describe()}); experiments may start "
                  "again")
        return 0
    # read first: an existing halt is reported as it is, and the connection is open before
    # the marker's time is taken, so `at` is when the halt really lands
    in_force = khalt.read_halt(kube)
    created = False
    if in_force is None:
        marker = HaltMarker(by=whoami(), at=time.time(), reason=args.reason or "")
        in_force, created = khalt.write_halt(kube, marker)
    if created:
        print(f"{where}: {in_force.describe()}")
        print("  running experiments undo their faults within 2 s (verdict: aborted); new "
              f"runs are refused until `{clear_hint}`")
    else:
        print(f"{where}: already {in_force.describe()} (that record is kept); clear with "
              f"`{clear_hint}`")
    return 0


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", help="kubeconfig of the cluster (default: the first of "
                   "$KUBECONFIG, ~/.kube/config and the kind clusters kube-chaos made here "
                   "that has --context)")
    p.add_argument("--context", help="kubeconfig context (default: the current one)")
    p.add_argument("--reason", help="why, recorded in the marker and shown to every refused "
                   "run")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--clear", action="store_true",
                      help="remove the halt: experiments may start again")
    mode.add_argument("--status", action="store_true",
                      help="say whether the cluster is halted (exit 1 when it is)")
    p.set_defaults(handler=cmd_halt)


def add_halt_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_text = ("kill switch: abort every kube-chaos run on the cluster (faults undone within "
                 "2 s) and refuse new ones until --clear")
    configure(sub.add_parser("halt", help=help_text, description=help_text))


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (`python -m chaos.cli.halt`), same options as `kube-chaos halt`."""
    parser = argparse.ArgumentParser(prog="kube-chaos halt")
    configure(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_halt(args)
    except ClusterError as exc:
        print(f"kube-chaos: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
