"""The node runtime: one interface (``NodeRuntime``) for every node-level action a fault, an
undo or a probe takes, and the ways to reach a node behind it (``DockerRuntime`` for kind's node
containers; an in-cluster agent next). Faults see only the interface, on ``FaultContext.node``."""
