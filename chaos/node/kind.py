"""``DockerRuntime``: kind's nodes are containers on this host, reached with the docker CLI.

The only run-time module that runs ``docker`` (provisioning, under ``chaos.cluster``, has its
own); tests/unit/test_node_runtime.py keeps it so.
"""

from __future__ import annotations

import json
import subprocess

from chaos.errors import DockerUnavailable
from chaos.node.runtime import LossMode, NodeMachineState, PowerVerb

_NO_SUCH = ("no such object", "no such container")
# the daemon itself did not answer: the container may well exist (its error text can also say
# "no such file or directory", about the socket)
_DAEMON_TROUBLE = ("cannot connect", "docker daemon", "docker api", "docker.sock",
                   "is the docker daemon running", "connection refused", "timed out")


def docker_unreachable(proc: subprocess.CompletedProcess[str]) -> bool:
    """The docker CLI could not talk to the engine (not: the engine said no)."""
    text = f"{proc.stderr}\n{proc.stdout}".lower()
    if any(s in text for s in _DAEMON_TROUBLE):
        return True
    # 125-127: our wrapper (no docker binary, timeout) or the CLI failing before the engine
    return proc.returncode in (125, 126, 127) and not any(s in text for s in _NO_SUCH)


class DockerRuntime:
    """kind node containers through ``docker`` (``binary``) on this host. Every action is one
    docker CLI call through ``docker``, the one place a process is started."""

    def __init__(self, binary: str = "docker") -> None:
        self.binary = binary

    def __repr__(self) -> str:
        return f"DockerRuntime({self.binary!r})"

    @property
    def access(self) -> str:
        return "docker"

    def docker(self, *args: str, stdin: str | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the docker CLI; never raises (exit 125 when it could not be run at all)."""
        try:
            return subprocess.run([self.binary, *args], input=stdin, capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return subprocess.CompletedProcess([self.binary, *args], 125, "", str(exc))

    def exec(self, node: str, *argv: str, stdin: str | None = None,
             timeout: float = 30) -> subprocess.CompletedProcess[str]:
        # -i on every call, as before the node runtime: the stdin of nft -f, when there is one
        return self.docker("exec", "-i", node, *argv, stdin=stdin, timeout=timeout)

    def transport_failed(self, proc: subprocess.CompletedProcess[str]) -> bool:
        return docker_unreachable(proc)

    def supports(self, mode: LossMode) -> bool:
        return True  # docker stops and pauses a container, and starts and unpauses it again

    def power(self, node: str, verb: PowerVerb,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.docker(verb, node, timeout=timeout)

    def state(self, node: str) -> NodeMachineState | None:
        """None only when Docker answers that the container does not exist; DockerUnavailable
        when Docker could not answer at all."""
        proc = self.docker("inspect", "--type", "container", "-f", "{{json .State}}", node,
                           timeout=30)
        err = (proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}")
        if proc.returncode != 0:
            if not docker_unreachable(proc) and any(s in err.lower() for s in _NO_SUCH):
                return None
            raise DockerUnavailable(f"docker inspect {node}: {err}")
        try:
            state = json.loads(proc.stdout)
        except ValueError:
            state = None
        if not isinstance(state, dict) or not isinstance(state.get("Status"), str):
            raise DockerUnavailable(f"docker inspect {node}: unexpected output "
                                    f"{proc.stdout[:200]!r}")
        return NodeMachineState(status=state["Status"], running=bool(state.get("Running")),
                                paused=bool(state.get("Paused")))

    def address(self, node: str) -> str:
        proc = self.docker("inspect", "-f",
                           "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", node,
                           timeout=30)
        return proc.stdout.split()[0] if proc.returncode == 0 and proc.stdout.split() else ""
