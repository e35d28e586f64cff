"""kind's node containers as the e2e tests check them: through the node runtime the runs use
(chaos.node.kind.DockerRuntime), never a docker call of their own."""

from __future__ import annotations

from chaos.node.kind import DockerRuntime

DOCKER = DockerRuntime()


def container_state(node: str) -> str | None:
    """`running`, `paused`, `exited`, ... for a node container; None when it does not exist."""
    state = DOCKER.state(node)
    return None if state is None else state.status
