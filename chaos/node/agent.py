"""``AgentRuntime``: nodes reached through a privileged agent pod on each, over the API
server's exec (chaos.k8s.podexec); no Docker, no SSH, nothing listening on the node network.

A command runs as ``nsenter -t 1 -a -- ARGV`` in the node's agent pod (hostPID: PID 1 is the
node's init), so it acts with the node's own ``ctr``, ``nft``, ``tc`` and ``ip`` exactly as
``docker exec`` into a kind node does, and every fault and undo built on ``NodeRuntime.exec``
works unchanged.

Life cycle: a run's agent pods are its session's (the name says which, chaos.plan.agent), made
on the first command for their node, each journaled as a ``delete-object`` undo before it
exists, and deleted by ``close`` at the end of the session. The runtime an undo handler gets
(``for_undo``) makes none of its own when it can help it: it uses the recorded session's agent,
or any running agent on that node, and makes an unjournaled one only when there is none.

Dead man's switch: each agent pod this runtime made holds a lease that a thread renews every
``lease_s / 5`` seconds (``renew``); before a network fault acts, ``arm`` registers its undo
with the agent, and ``disarm`` drops it once undone. A runner that dies (or loses the API
server) stops renewing; ``lease_s`` later the agent runs what is armed (chaos.node.agent_main).
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import threading
from collections.abc import Callable

from chaos.errors import ChaosError, ClusterError
from chaos.journal.store import Journal, UndoAction
from chaos.k8s import agentpods
from chaos.k8s.client import Kube
from chaos.k8s.podexec import ExecResult, run_in_pod
from chaos.node.runtime import LossMode, NodeMachineState, PowerVerb
from chaos.plan import agent as plan

ACCESS = "agent"
# stderr of a command the agent path could not run at all (exit 125, as DockerRuntime's)
TRANSPORT = "kube-chaos node agent:"
DEFAULT_LEASE_S = 30.0
START_TIMEOUT_S = 120.0

Exec = Callable[..., ExecResult]


def _b64(text: str | None) -> str | None:
    return base64.b64encode(text.encode()).decode() if text is not None else None


class AgentRuntime:
    """The node runtime through agent pods. ``journal`` set: a run's runtime (its pods
    journaled, leased and deleted by ``close``); None: an undo's (see ``for_undo``)."""

    def __init__(self, kube: Kube, *, image: str, session: str, kubeconfig: str = "",
                 cluster: str = "", journal: Journal | None = None,
                 lease_s: float = DEFAULT_LEASE_S, start_timeout_s: float = START_TIMEOUT_S,
                 run: Exec = run_in_pod, log: Callable[[str], None] = lambda _m: None) -> None:
        self.kube = kube
        self.image = image
        self.session = session
        self.kubeconfig = kubeconfig
        self.cluster = cluster
        self.journal = journal
        self.lease_s = lease_s
        self.start_timeout_s = start_timeout_s
        self.run = run
        self.log = log
        self._pods: dict[str, str] = {}  # node -> agent pod in use
        self._made: dict[str, UndoAction] = {}  # agent pod this runtime made -> its undo
        self._lock = threading.Lock()
        self._node_locks: dict[str, threading.Lock] = {}
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"AgentRuntime(session={self.session!r}, image={self.image!r})"

    @classmethod
    def for_undo(cls, kube: Kube, target: dict[str, str] | None = None) -> AgentRuntime:
        target = target or {}
        return cls(kube, image=target.get("agent_image", ""),
                   session=target.get("agent_session", ""))

    @property
    def access(self) -> str:
        return ACCESS

    def journal_target(self) -> dict[str, str]:
        """What an undo's journal target records so that its handler finds this session's
        agent (``for_undo``)."""
        return {"agent_session": self.session, "agent_image": self.image}

    # --- the agent pods ------------------------------------------------------------------------

    def _node_lock(self, node: str) -> threading.Lock:
        with self._lock:
            return self._node_locks.setdefault(node, threading.Lock())

    def pod_for(self, node: str) -> str:
        """The agent pod serving ``node``, made when there is none; ClusterError when it
        cannot be had."""
        with self._node_lock(node):
            known = self._pods.get(node)
            if known is not None:
                return known
            name = self._find_or_make(node)
            self._pods[node] = name
            return name

    def _find_or_make(self, node: str) -> str:
        own = plan.pod_name(node, self.session)
        if self.session:
            pod = agentpods.read_pod(self.kube, own)
            if pod is not None and pod.usable:
                if self.journal is not None:
                    self._take_lease(own)
                return own
        if self.journal is None:  # an undo's: anyone's agent on that node will do
            found = agentpods.agents_on(self.kube, node)
            if found:
                return found[0].name
        if not self.image:
            raise ClusterError(f"no node agent runs on {node}, and no agent image is known to "
                               f"start one (--chaos-agent-image)")
        manifest = plan.pod_manifest(node, self.session or "undo", self.image)
        name = str(manifest["metadata"]["name"])
        if self.journal is not None:
            self._made[name] = self.journal.record(UndoAction(
                kind="delete-object",
                params={"api_version": "v1", "kind": "Pod", "name": name,
                        "namespace": plan.NAMESPACE},
                target={"kubeconfig": self.kubeconfig, "context": self.kube.context,
                        "cluster": self.cluster, "namespace": plan.NAMESPACE,
                        "node_access": ACCESS}))
        self.log(f"starting node agent {plan.NAMESPACE}/{name} on {node} ({self.image})")
        agentpods.ensure_namespace(self.kube)
        agentpods.create_pod(self.kube, manifest)
        agentpods.wait_usable(self.kube, name, self.start_timeout_s)
        if self.journal is not None:
            self._take_lease(name)
        return name

    # --- the lease -----------------------------------------------------------------------------

    def _take_lease(self, pod: str) -> None:
        self._renew(pod)
        with self._lock:
            if self._renewer is None:
                self._renewer = threading.Thread(target=self._renew_loop, daemon=True,
                                                 name="kube-chaos-agent-lease")
                self._renewer.start()

    def _renew(self, pod: str) -> bool:
        try:
            res = self.run(self.kube, plan.NAMESPACE, pod, plan.renew_argv(self.lease_s),
                           container=plan.CONTAINER, timeout=10)
        except ClusterError:
            return False
        return res.returncode == 0

    def _renew_loop(self) -> None:
        every = max(self.lease_s / 5, 0.5)
        while not self._stop.wait(every):
            with self._lock:
                pods = set(self._pods.values())
            for pod in sorted(pods):
                self._renew(pod)

    def arm(self, node: str, key: str, *argv: str, stdin: str | None = None) -> None:
        """Register ``argv`` as the undo the node's agent runs when the lease runs out."""
        self._agent_call(node, plan.arm_argv(key, argv, _b64(stdin)), f"arm undo {key}")

    def disarm(self, node: str, key: str) -> None:
        """Drop that undo (done by the runner itself); best effort."""
        with contextlib.suppress(ClusterError):
            self._agent_call(node, plan.disarm_argv(key), f"disarm undo {key}")

    def _agent_call(self, node: str, argv: list[str], what: str) -> None:
        pod = self.pod_for(node)
        res = self.run(self.kube, plan.NAMESPACE, pod, argv, container=plan.CONTAINER,
                       timeout=15)
        if res.returncode != 0:
            raise ClusterError(f"node agent {pod} on {node}: {what}: "
                               f"{res.stderr.strip() or res.returncode}")

    def close(self) -> list[str]:
        """Stop renewing and delete the agent pods this runtime made, each undo marked done
        once the pod is gone or going; returns one line per pod that could not be."""
        self._stop.set()
        problems = []
        for name, action in list(self._made.items()):
            try:
                agentpods.delete_pod(self.kube, name)
                pod = agentpods.read_pod(self.kube, name)
                if pod is not None and not pod.deleting:
                    raise ClusterError(f"node agent pod {name} is still there after delete")
            except ClusterError as exc:
                problems.append(str(exc))
                if self.journal is not None:
                    with contextlib.suppress(Exception):
                        self.journal.done(action, error=str(exc))
                continue
            if self.journal is not None:
                with contextlib.suppress(Exception):
                    self.journal.done(action)
            del self._made[name]
        with self._lock:
            self._pods.clear()
        return problems

    # --- NodeRuntime -----------------------------------------------------------------------

    def exec(self, node: str, *argv: str, stdin: str | None = None,
             timeout: float = 30) -> subprocess.CompletedProcess[str]:
        try:
            pod = self.pod_for(node)
            res = self.run(self.kube, plan.NAMESPACE, pod,
                           plan.exec_argv(argv, _b64(stdin)), container=plan.CONTAINER,
                           timeout=timeout)
        except ChaosError as exc:  # the agent could not be had, or the exec failed
            with self._lock:
                self._pods.pop(node, None)  # look for the agent again next time
            return subprocess.CompletedProcess(list(argv), 125, "", f"{TRANSPORT} {exc}")
        return subprocess.CompletedProcess(list(argv), res.returncode, res.stdout, res.stderr)

    def transport_failed(self, proc: subprocess.CompletedProcess[str]) -> bool:
        return proc.returncode == 125 and proc.stderr.startswith(TRANSPORT)

    def supports(self, mode: LossMode) -> bool:
        return False  # a node's machine is not the agent's to stop or pause

    def power(self, node: str, verb: PowerVerb,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            [verb, node], 1, "", f"the node agent cannot {verb} the machine of node {node}")

    def state(self, node: str) -> NodeMachineState | None:
        """Running when the node's agent answers; None when the Node object is gone;
        ClusterError when neither can be told."""
        exists, _ = agentpods.node_state(self.kube, node)
        if not exists:
            return None
        proc = self.exec(node, "true", timeout=15)
        if proc.returncode != 0:
            raise ClusterError(f"node {node}: its agent does not answer: "
                               f"{proc.stderr.strip() or proc.returncode}")
        return NodeMachineState(status="running", running=True, paused=False)

    def address(self, node: str) -> str:
        try:
            return agentpods.node_state(self.kube, node)[1]
        except ClusterError:
            return ""

