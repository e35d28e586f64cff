"""Node runtimes for tests: ``FakeNode`` (each action handed to the test's own callable) and
``ScriptedDocker`` (the real DockerRuntime whose docker CLI is a test's Python fake)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from chaos.node.kind import DockerRuntime, docker_unreachable
from chaos.node.runtime import LossMode, NodeMachineState, PowerVerb

Proc = subprocess.CompletedProcess[str]


def machine(status: str | None) -> NodeMachineState | None:
    """The state ``docker inspect`` reports for a container in ``status`` (None: no such)."""
    if status is None:
        return None
    return NodeMachineState(status, running=status in ("running", "paused"),
                            paused=status == "paused")


def _unexpected(what: str) -> Callable[..., Any]:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"unexpected node {what}{args}")
    return fail


class FakeNode:
    """A NodeRuntime whose every action goes to the callable the test gave for it (any other
    action fails the test). ``transport_failed`` reads Docker's words, as DockerRuntime does."""

    def __init__(self, *, power: Callable[[str, PowerVerb, float], Proc] | None = None,
                 state: Callable[[str], NodeMachineState | None] | None = None,
                 exec: Callable[..., Proc] | None = None,
                 address: Callable[[str], str] | None = None,
                 supports: bool = True, access: str = "docker") -> None:
        self._power = power or _unexpected("power")
        self._state = state or _unexpected("state")
        self._exec = exec or _unexpected("exec")
        self._address = address or _unexpected("address")
        self._supports = supports
        self._access = access

    @property
    def access(self) -> str:
        return self._access

    def exec(self, node: str, *argv: str, stdin: str | None = None,
             timeout: float = 30) -> Proc:
        return self._exec(node, *argv, stdin=stdin, timeout=timeout)  # type: ignore[no-any-return]

    def transport_failed(self, proc: Proc) -> bool:
        return docker_unreachable(proc)

    def supports(self, mode: LossMode) -> bool:
        return self._supports

    def power(self, node: str, verb: PowerVerb, timeout: float = 60) -> Proc:
        return self._power(node, verb, timeout)

    def state(self, node: str) -> NodeMachineState | None:
        return self._state(node)

    def address(self, node: str) -> str:
        return self._address(node)


class ScriptedDocker(DockerRuntime):
    """DockerRuntime (its parsing and its error rules) over a fake docker CLI: ``docker exec -i
    NODE ARGV`` goes to ``node_exec(NODE, *ARGV, stdin=, timeout=)``, every other call to
    ``docker(*args, timeout=)``."""

    def __init__(self, docker: Callable[..., Proc] | None = None,
                 node_exec: Callable[..., Proc] | None = None) -> None:
        super().__init__()
        self.fake_docker = docker or _unexpected("docker")
        self.fake_exec = node_exec or _unexpected("exec")

    def docker(self, *args: str, stdin: str | None = None, timeout: float = 60) -> Proc:
        if args[:2] == ("exec", "-i"):
            return self.fake_exec(args[2], *args[3:], stdin=stdin,  # type: ignore[no-any-return]
                                  timeout=timeout)
        assert stdin is None
        return self.fake_docker(*args, timeout=timeout)  # type: ignore[no-any-return]
