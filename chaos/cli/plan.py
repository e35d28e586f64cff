"""`kube-chaos plan` (review what a run would do) and `kube-chaos rbac` (the least privilege a
run needs)."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path


def _experiments(paths: list[str], allow_paths: list[str] | None = None):  # type: ignore[no-untyped-def]
    from chaos.model.parse import load_experiment

    allowed = [Path(p).expanduser() for p in allow_paths or []]
    found = []
    for raw in paths:
        p = Path(raw)
        files = sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml")) if p.is_dir() else [p]
        found += [load_experiment(f, allow_paths=allowed) for f in files]
    return found


def cmd_plan(args: argparse.Namespace) -> int:
    from chaos.engine.preview import format_plan, plan_document, plan_experiment
    from chaos.k8s.client import connect
    from chaos.model.experiment import BlastRadius

    exps = _experiments(args.paths, args.allow_path)
    kube = connect(args.kubeconfig, args.context)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 2**31)
    limits = None
    if args.max_pods or args.max_percent or args.max_nodes:
        limits = BlastRadius(max_pods=args.max_pods, max_percent=args.max_percent,
                             max_nodes=args.max_nodes or 10**6)
    plans = [plan_experiment(e, kube, seed=seed, allow_contexts=tuple(args.allow_context or ()),
                             allow_hosts=tuple(args.allow_host or ()), limits=limits)
             for e in exps]
    for plan in plans:
        print(format_plan(plan))
    doc = plan_document(plans)
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    problems = sum(len(p.problems) for p in plans)
    print(f"plan {doc['hash'][:16]} written to {args.out}: {len(plans)} experiment(s), "
          f"{problems} problem(s)")
    if problems:
        print("refused: fix the problems above before running", file=sys.stderr)
        return 2
    return 0


def cmd_rbac(args: argparse.Namespace) -> int:
    from chaos.k8s.workload import read_manifests
    from chaos.plan.permissions import Permission, needed, rbac_manifest

    perms: set[Permission] = set()
    for exp in _experiments(args.paths, args.allow_path):
        existing = exp.workload.existing
        kinds = ([] if existing else
                 [str(d.get("kind")) for _, d in read_manifests(exp.workload.manifests)])
        ns = existing.namespace if existing else "default"
        got = needed(exp, ns, kinds)
        if existing is None:  # its namespace is made at run time: grant cluster-wide
            got = [Permission(p.verb, p.group, p.resource, None) for p in got]
        perms |= set(got)
    sys.stdout.write(rbac_manifest(args.name, sorted(perms, key=Permission.key)))
    return 0


_ALLOW_PATH = ("folder the experiments' manifests and locustfile may be in besides each "
               "experiment file's own folder (repeatable)")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_text = ("resolve what the experiments would do (targets, PDBs, permissions, blast "
                 "radius, load target), change nothing, write plan.json")
    p = sub.add_parser("plan", help=help_text, description=help_text)
    p.add_argument("paths", nargs="+", help="experiment files or folders")
    p.add_argument("--kubeconfig", default=None)
    p.add_argument("--context", default=None)
    p.add_argument("--seed", type=int, default=None, help="the seed the run will use")
    p.add_argument("--allow-context", action="append", metavar="CONTEXT")
    p.add_argument("--allow-host", action="append", metavar="HOST")
    p.add_argument("--allow-path", action="append", metavar="DIR", help=_ALLOW_PATH)
    p.add_argument("--max-pods", type=int, default=None)
    p.add_argument("--max-percent", type=float, default=None)
    p.add_argument("--max-nodes", type=int, default=None)
    p.add_argument("-o", "--out", default="plan.json", help="where to write the plan")
    p.set_defaults(handler=cmd_plan)
    help_text = "print the Role/ClusterRole the experiments need (least privilege)"
    p = sub.add_parser("rbac", help=help_text, description=help_text)
    p.add_argument("paths", nargs="+", help="experiment files or folders")
    p.add_argument("--name", default="kube-chaos-runner", help="name of the roles")
    p.add_argument("--allow-path", action="append", metavar="DIR", help=_ALLOW_PATH)
    p.set_defaults(handler=cmd_rbac)
