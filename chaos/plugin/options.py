"""The plugin's options: one `chaos` group, each option with an ini fallback, and what the
session makes of them (seed aside: see session.py). Pure reads of the pytest config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from chaos.model.experiment import BlastRadius


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos", "kube-chaos: chaos experiments on Kubernetes")

    def opt(name: str, help: str, ini_type: Any = "string", ini: str | None = None,
            **kwargs: Any) -> None:
        dest = "chaos_" + name.replace("-", "_")
        ini = ini or dest
        default = kwargs.pop("default", None)
        # option() reads the ini key only for an option left unset, so a default of the
        # command line's own would hide it: a value default is the ini declaration's alone
        cli_default = default if default in (None, [], False) else None
        group.addoption(f"--chaos-{name}", dest=dest, help=help + f" (ini: {ini})",
                        default=cli_default, **kwargs)
        parser.addini(ini, help, type=ini_type, default=default)
        _INI_NAMES[dest] = ini
        if "choices" in kwargs:
            _CHOICES[dest] = tuple(kwargs["choices"])

    opt("kubeconfig", "target an existing cluster through this kubeconfig instead of "
        "provisioning kind", default=None)
    opt("context", "kubeconfig context to use (default: the current one)", default=None)
    opt("cluster-name", "name of the kind cluster to provision or reuse", default="kube-chaos")
    opt("keep-cluster", "keep a kind cluster this run created (default: delete it at the end; "
        "a cluster that already existed is always kept)", ini_type="bool",
        action="store_true", default=False)
    opt("keep-namespace", "keep a test's namespace: never, on-failure or always",
        default="never", choices=("never", "on-failure", "always"))
    opt("reports", "directory for reports (<dir>/<run-id>/<experiment>/report.json)",
        default="reports")
    opt("seed", "random seed for target choice (default: random, recorded in reports)",
        default=None)
    opt("allow-context", "kubeconfig context faults may target although kube-chaos did not "
        "provision it (repeatable; ini: whitespace-separated)", ini_type="args",
        action="append", default=[])
    opt("plan", "a plan.json reviewed with `kube-chaos plan`: each experiment runs only if the "
        "plan resolved at its start is exactly the reviewed one (same seed)", default=None)
    opt("max-pods", "blast radius: no fault may hit more pods than this (on top of each "
        "experiment's spec.blastRadius)", default=None)
    opt("max-percent", "blast radius: no fault may hit more than this percentage of a "
        "workload's replicas", default=None)
    opt("max-nodes", "blast radius: no fault may hit more nodes than this", default=None)
    opt("repeat", "run each experiment N times (items <name>[1] ... <name>[N]); the summary "
        "and the HTML index give the median and a 95-percent bootstrap interval of recovery, "
        "longest outage and error rate", default=None)
    opt("allow-host", "host that load (spec.load.url), HTTP and Prometheus abort guards may "
        "reach besides 127.0.0.1, localhost and ::1 (repeatable; ini: whitespace-separated)",
        ini_type="args", action="append", default=[])
    opt("parallel", "run up to N experiments at once (pytest-xdist workers; `auto`: two per "
        "core, at most 8); those whose faults reach past their namespace still run alone, and "
        "two that name one NodePort take turns", default=None)
    opt("allow-path", "folder an experiment's manifests and locustfile may be in besides the "
        "experiment file's own folder (repeatable; ini: whitespace-separated, relative to the "
        "ini file)", ini_type="paths", action="append", default=[])
    opt("node-ports", "NodePorts the cluster publishes on 127.0.0.1, which experiments with "
        "nodePort: auto pick from, e.g. 30080-30099 or 30080,30085-30089 (default: the "
        "30080-30099 of a kind cluster kube-chaos made or reused; none for --chaos-kubeconfig)",
        default=None)
    opt("node-access", "how node-level faults reach the nodes: docker (kind's node containers "
        "on this machine), agent (a privileged kube-chaos agent pod per node, through the API "
        "server) or auto (docker for a kind cluster on this machine, else agent)",
        default=None, choices=("auto", "docker", "agent"))
    opt("agent-image", "the node agent's image (default: the one this kube-chaos builds, "
        "`kube-chaos agent image`; copied onto a kind cluster, pulled elsewhere)", default=None)
    opt("lease", "seconds the node agents wait for this run to renew its lease before they "
        "undo its faults by themselves (default 30)", default=None)


N = TypeVar("N", int, float)

_INI_NAMES: dict[str, str] = {}  # option dest -> its ini name, where they differ
_CHOICES: dict[str, tuple[str, ...]] = {}  # argparse checks the command line's, not the ini's


def option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name)
    if value in (None, [], False):
        ini_name = _INI_NAMES.get(name, name)
        ini = config.getini(ini_name)
        if name in _CHOICES and ini not in ("", None) and ini not in _CHOICES[name]:
            raise pytest.UsageError(f"{ini_name}: {str(ini)[:40]!r} is not one of "
                                    f"{', '.join(_CHOICES[name])}")
        return ini if ini not in ("", []) else value
    return value


def allowed_paths(config: pytest.Config) -> tuple[Path, ...]:
    """--chaos-allow-path folders (relative to where pytest was started), or the ini's
    (relative to the ini file, as pytest resolves "paths" options)."""
    given = option(config, "chaos_allow_path") or []
    if not given:
        return ()
    base = config.invocation_params.dir
    return tuple((base / Path(p).expanduser()).resolve() for p in given)


def _number(config: pytest.Config, name: str, convert: Callable[[str], N], default: N,
            what: str) -> tuple[N, Any]:
    """An option read as a number (its default when unset) and the raw text it came from;
    a usage error naming the option when it is not one."""
    raw = option(config, f"chaos_{name}")
    try:
        return (convert(raw) if raw not in (None, "") else default), raw
    except ValueError as exc:
        raise pytest.UsageError(f"--chaos-{name} must be {what}, got {raw!r}") from exc


def repeat_count(config: pytest.Config) -> int:
    n, _ = _number(config, "repeat", int, 1, "a positive integer")
    if n < 1:
        raise pytest.UsageError(f"--chaos-repeat must be a positive integer, got {n}")
    return n


def rerun_options(config: pytest.Config) -> tuple[str, ...]:
    """`kube-chaos run` flags that aim a rerun at the same cluster as this session."""
    out: list[str] = []
    for dest, flag in (("chaos_kubeconfig", "--kubeconfig"), ("chaos_context", "--context")):
        value = option(config, dest)
        if value:
            shown = Path(value).expanduser().resolve() if dest == "chaos_kubeconfig" else value
            out.append(f"{flag}={shown}")
    out += [f"--allow-context={c}" for c in option(config, "chaos_allow_context") or []]
    out += [f"--allow-host={h}" for h in option(config, "chaos_allow_host") or []]
    out += [f"--allow-path={p}" for p in allowed_paths(config)]
    # the blast-radius limits a game day ran under are part of what it was: a rerun keeps them
    for kind in ("pods", "percent", "nodes"):
        value = option(config, f"chaos_max_{kind}")
        if value not in (None, ""):
            out.append(f"--max-{kind}={value}")
    return tuple(out)


def lease_seconds(config: pytest.Config) -> float:
    lease, raw = _number(config, "lease", float, 30.0, "a number of seconds")
    if not 2 <= lease <= 3600:
        raise pytest.UsageError(f"--chaos-lease must be between 2 and 3600 seconds, got {raw}")
    return lease


def reviewed_plan(config: pytest.Config) -> dict[str, Any] | None:
    import json

    path = option(config, "chaos_plan")
    if not path:
        return None
    try:
        data: dict[str, Any] = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(f"--chaos-plan {path}: cannot read the plan: {exc}") from exc
    return data


def blast_limits(config: pytest.Config) -> BlastRadius | None:
    from chaos.model.experiment import BlastRadius

    raw = {k: option(config, f"chaos_max_{k}") for k in ("pods", "percent", "nodes")}
    if all(v in (None, "") for v in raw.values()):
        return None
    try:
        pods = int(raw["pods"]) if raw["pods"] not in (None, "") else None
        percent = float(raw["percent"]) if raw["percent"] not in (None, "") else None
        nodes = int(raw["nodes"]) if raw["nodes"] not in (None, "") else 10**6
    except ValueError as exc:
        raise pytest.UsageError(f"--chaos-max-pods/--chaos-max-percent/--chaos-max-nodes: "
                                f"{exc}") from exc
    if (pods is not None and pods < 1) or (percent is not None and not 0 < percent <= 100) \
            or nodes < 1:
        raise pytest.UsageError("blast-radius limits must be positive (percent: 0 < p <= 100)")
    return BlastRadius(max_pods=pods, max_percent=percent, max_nodes=nodes)



def node_ports(config: pytest.Config) -> tuple[int, ...] | None:
    """--chaos-node-ports as ports in the order given (None: not given): comma-separated
    ports and ranges, each a NodePort."""
    from chaos.model.values import NODE_PORT_RANGE

    raw = option(config, "chaos_node_ports")
    if raw in (None, ""):
        return None
    low, high = NODE_PORT_RANGE
    ports: dict[int, None] = {}
    for part in str(raw).replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        try:
            a, b = int(first), int(last if dash else first)
        except ValueError:
            a, b = 0, -1
        if not low <= a <= b <= high:
            raise pytest.UsageError(
                f"--chaos-node-ports: {part!r} is not a NodePort or a range of them ({low}-"
                f"{high}, e.g. 30080-30099 or 30080,30085)")
        ports.update(dict.fromkeys(range(a, b + 1)))
    return tuple(ports)
