"""`kube-chaos run | rerun`: an experiment run as a pytest session, or a report's run again."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_run(args: argparse.Namespace) -> int:
    """Game-day entry point: the same pytest run as `pytest -m chaos <paths>`."""
    import pytest

    argv = ["-m", "chaos", "-p", "no:cacheprovider", "-p", "no:locust", "-v",
            *[str(p) for p in args.paths]]
    for flag, value in (("--chaos-kubeconfig", args.kubeconfig), ("--chaos-context", args.context),
                        ("--chaos-seed", args.seed), ("--chaos-reports", args.reports),
                        ("--junitxml", args.junitxml), ("--chaos-plan", args.plan),
                        ("--chaos-max-pods", args.max_pods),
                        ("--chaos-max-percent", args.max_percent),
                        ("--chaos-max-nodes", args.max_nodes)):
        if value is not None:
            argv.append(f"{flag}={value}")
    for ctx in args.allow_context or []:
        argv.append(f"--chaos-allow-context={ctx}")
    for host in args.allow_host or []:
        argv.append(f"--chaos-allow-host={host}")
    for path in args.allow_path or []:
        argv.append(f"--chaos-allow-path={path}")
    for flag, name in (("--chaos-node-access", "node_access"),
                       ("--chaos-agent-image", "agent_image"), ("--chaos-lease", "lease")):
        if getattr(args, name, None) is not None:
            argv.append(f"{flag}={getattr(args, name)}")
    if args.keep_cluster:
        argv.append("--chaos-keep-cluster")
    if args.repeat is not None:
        argv.append(f"--chaos-repeat={args.repeat}")
    return int(pytest.main(argv))


def cmd_rerun(args: argparse.Namespace) -> int:
    """`kube-chaos run` of the experiment a report records, with its seed and blast-radius
    limits, read as data (chaos.report.rerun): the cluster options are the user's, given here
    again; files that changed since are named first. A refusal is one line, exit 2."""
    import sys

    from chaos.errors import RerunRefused

    try:
        return _rerun(args)
    except RerunRefused as exc:
        print(f"kube-chaos rerun: refused: {exc}", file=sys.stderr)
        return 2


def _rerun(args: argparse.Namespace) -> int:
    import shlex

    from chaos.errors import RerunRefused
    from chaos.report.provenance import file_sha256
    from chaos.report.rerun import rerun_plan
    from chaos.report.text import printable
    from chaos.report.writer import load_report

    report = load_report(args.report)
    manifest = report["manifest"]
    if manifest is None:
        print(f"{args.report}: report written before schema 4 has no rerun command; run "
              f"`kube-chaos run {printable(report['experiment']['path'])} "
              f"--seed={printable(report['seed'])}`")
        return 2
    if not isinstance(manifest, dict):
        raise RerunRefused(f"{printable(args.report)}: manifest: not a JSON object; nothing "
                           "was run")
    plan = rerun_plan(str(args.report), manifest)
    given = {"--kubeconfig": [args.kubeconfig] if args.kubeconfig else [],
             "--context": [args.context] if args.context else [],
             "--allow-context": args.allow_context or [],
             "--allow-host": args.allow_host or []}
    missing = [f for f in plan.needs if not given[f]]
    if missing:
        raise RerunRefused(
            f"{printable(args.report)}: the recorded run was given {', '.join(plan.needs)}; a "
            f"report never chooses the cluster: pass {', '.join(missing)} again on this "
            "command line; nothing was run")
    entries = [manifest.get("experiment_file"), *(manifest.get("workload_manifests") or []),
               manifest.get("locustfile")]
    for f in entries:
        if isinstance(f, dict) and isinstance(f.get("path"), str) \
                and file_sha256(Path(f["path"])) != f.get("sha256"):
            print(f"kube-chaos rerun: note: {printable(f['path'])} changed since the report "
                  f"(sha256 {printable(str(f.get('sha256'))[:12])} then): the rerun uses it as "
                  f"it is now")
    if not plan.exact:
        print("kube-chaos rerun: note: the recorded run changed its experiment in Python; the "
              "file alone does not reproduce it exactly")
    extra = [f"{flag}={value}" for flag, values in given.items() for value in values]
    for flag, value in (("--reports", args.reports), ("--junitxml", args.junitxml)):
        if value is not None:
            extra.append(f"{flag}={value}")
    if args.keep_cluster:
        extra.append("--keep-cluster")
    argv = plan.argv(extra, repeat=args.repeat)
    print("kube-chaos rerun: " + printable(shlex.join(["kube-chaos", *argv])), flush=True)
    return cmd_run(run_parser().parse_args(argv))


def run_parser() -> argparse.ArgumentParser:
    """`kube-chaos run` alone: what a rerun's recorded argv (``run ...``) is parsed with."""
    parser = argparse.ArgumentParser(prog="kube-chaos")
    add_run_command(parser.add_subparsers(dest="command", required=True))
    return parser


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_run_command(sub)
    add_rerun_command(sub)


def add_run_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run", help="run YAML experiments (pytest -m chaos) against kind or a named cluster",
        description="Run experiments as a pytest session: provisions kind unless --kubeconfig "
                    "is given; reports under --reports.")
    run.add_argument("paths", nargs="*", type=Path, default=[Path("experiments")])
    run.add_argument("--kubeconfig", help="existing cluster's kubeconfig (default: kind)")
    run.add_argument("--context", help="kubeconfig context")
    run.add_argument("--allow-context", action="append",
                     help="context faults may target although kube-chaos did not provision it")
    run.add_argument("--allow-host", action="append", metavar="HOST",
                     help="host the load (spec.load.url) and HTTP/Prometheus abort guards may "
                          "reach; 127.0.0.1 and localhost always may (repeatable)")
    run.add_argument("--allow-path", action="append", metavar="DIR",
                     help="folder the experiments' manifests and locustfile may be in besides "
                          "each experiment file's own folder (repeatable)")
    run.add_argument("--seed", help="seed for target choice (default: random, recorded)")
    run.add_argument("--reports", help="reports directory (default: reports)")
    run.add_argument("--junitxml", help="also write JUnit XML with SLA figures as properties")
    run.add_argument("--plan", help="a plan.json from `kube-chaos plan`: refuse to start any "
                                    "experiment whose plan, resolved again, differs")
    run.add_argument("--max-pods", type=int, help="blast radius: no fault may hit more pods")
    run.add_argument("--max-percent", type=float,
                     help="blast radius: no fault may hit more than this percentage of a "
                          "workload's replicas")
    run.add_argument("--max-nodes", type=int, help="blast radius: no fault may hit more nodes")
    run.add_argument("--keep-cluster", action="store_true",
                     help="keep a kind cluster this run created")
    run.add_argument("--node-access", choices=("auto", "docker", "agent"),
                     help="how node-level faults reach the nodes (default auto: docker for a "
                          "kind cluster on this machine, else the node agent)")
    run.add_argument("--agent-image", help="the node agent's image (default: the one "
                                           "`kube-chaos agent image` builds)")
    run.add_argument("--lease", type=float, help="seconds without the run's lease before the "
                                                 "node agents undo its faults (default 30)")
    run.add_argument("--repeat", type=int, help="run each experiment N times (median and "
                                                "95%% interval in the summary and HTML index)")
    run.set_defaults(handler=cmd_run)


def add_rerun_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rerun = sub.add_parser(
        "rerun", help="run the experiment of a report.json again: same file, seed and limits",
        description="Repeat the run a report records: the same experiment file, seed and "
                    "blast-radius limits, read from its manifest as data (anything else there "
                    "refuses the rerun). The cluster options (--kubeconfig, --context, "
                    "--allow-context, --allow-host) are never taken from the report: when the "
                    "recorded run had them, give them again here. Files changed since are "
                    "named.")
    rerun.add_argument("report", type=Path, help="report.json (or its directory)")
    rerun.add_argument("--kubeconfig", help="existing cluster's kubeconfig (default: kind); "
                                            "never taken from the report")
    rerun.add_argument("--context", help="kubeconfig context; never taken from the report")
    rerun.add_argument("--allow-context", action="append",
                       help="as for `run`; never taken from the report (repeatable)")
    rerun.add_argument("--allow-host", action="append", metavar="HOST",
                       help="as for `run`; never taken from the report (repeatable)")
    rerun.add_argument("--reports", help="reports directory (default: reports)")
    rerun.add_argument("--junitxml", help="also write JUnit XML")
    rerun.add_argument("--repeat", type=int, help="run it N times")
    rerun.add_argument("--keep-cluster", action="store_true",
                       help="keep a kind cluster this run created")
    rerun.set_defaults(handler=cmd_rerun)
