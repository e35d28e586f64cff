"""`kube-chaos cluster ...`: provision and inspect the kind test cluster (chaos.cluster)."""

from __future__ import annotations

import argparse
import json

from chaos.errors import ChaosError


def _cluster_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from chaos.cluster.config import DEFAULT_PORTS, ClusterConfig, PortMapping

    return ClusterConfig(
        name=args.name,
        workers=args.workers,
        control_planes=args.control_planes,
        kubernetes=args.kubernetes,
        image=args.image,
        ports=tuple(PortMapping(node + args.port_offset, node) for _, node in DEFAULT_PORTS),
    )


def cmd_cluster_up(args: argparse.Namespace) -> int:
    from chaos.cluster import kind

    info = kind.up(_cluster_config(args), wait_s=args.wait,
                   metrics_server=not args.no_metrics_server)
    print(f"cluster {info.name!r} {'reused' if info.reused else 'created'} in "
          f"{info.seconds:.1f}s")
    print(f"  nodes:      {', '.join(info.nodes)}")
    print(f"  image:      {info.image}")
    print(f"  kubeconfig: export KUBECONFIG={info.kubeconfig}  (context {info.context})")
    return 0


def cmd_cluster_down(args: argparse.Namespace) -> int:
    from chaos.cluster import kind

    kind.down(_cluster_config(args))
    print(f"cluster {args.name!r} deleted")
    return 0


def cmd_cluster_status(args: argparse.Namespace) -> int:
    from chaos.cluster import kind

    state = kind.status(_cluster_config(args))
    print(json.dumps(state, indent=2, default=str))
    return 0 if state.get("exists") else 1


def cmd_cluster_load(args: argparse.Namespace) -> int:
    from chaos.cluster import images

    loaded = images.provide(_cluster_config(args), args.images)
    print(f"loaded into {args.name!r}: {', '.join(loaded)}")
    return 0


def cmd_build_image(args: argparse.Namespace) -> int:
    from chaos.cluster import engine, nodeimage

    engine.ensure_engine()
    tag = nodeimage.build_node_image(force=args.force)
    print(tag)
    return 0


def cmd_agent_image(args: argparse.Namespace) -> int:
    """Build (or reuse) the node agent's image; load it into a kind cluster, or save it as a
    tar to push to the registry another cluster pulls from; prints its tag."""
    from pathlib import Path

    from chaos.cluster import agent_image, engine

    engine.ensure_engine()
    if args.save:
        tag = agent_image.save(Path(args.save))
    elif args.load:
        tag = agent_image.provide(args.load)
    else:
        tag = agent_image.ensure_image()
    print(tag)
    return 0


def cmd_prebuild(args: argparse.Namespace) -> int:
    from chaos.cluster import prebuild
    from chaos.cluster.cache import cache_root
    from chaos.cluster.progress import Progress
    from chaos.cluster.versions import PINS

    bad = prebuild.unknown(args.components)
    if bad:
        raise ChaosError(f"unknown component(s) {', '.join(bad)}; known: "
                         f"{', '.join(prebuild.COMPONENTS)}")
    outcome = prebuild.prebuild(args.components, PINS, cache_root(), Progress())
    for name, result in outcome.items():
        print(f"{name}: {result}")
    return 0 if all(r == "ok" for r in outcome.values()) else 1


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    from chaos.cluster.config import DEFAULT_NAME
    from chaos.cluster.versions import PINS

    p.add_argument("--name", default=DEFAULT_NAME, help="kind cluster name (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2, help="worker nodes (default: %(default)s)")
    p.add_argument("--control-planes", type=int, default=1,
                   help="control-plane nodes (default: %(default)s); more than one gives an HA "
                        "control plane behind kind's load balancer (built offline) and "
                        "publishes the NodePorts through a proxy that survives any node's loss")
    p.add_argument("--kubernetes", default=PINS.kubernetes,
                   help="Kubernetes version (default: %(default)s, the offline-buildable pin)")
    p.add_argument("--image", default=None,
                   help="node image to use instead of resolving/building one")
    p.add_argument("--port-offset", type=int, default=0,
                   help="publish NodePorts 30080-30099 on 127.0.0.1:(port + offset), so two "
                        "clusters can coexist (default: 0)")
    p.add_argument("--wait", type=float, default=300,
                   help="seconds to wait for all nodes and kube-system pods (default: 300)")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cluster = sub.add_parser("cluster", help="provision and inspect the kind test cluster")
    csub = cluster.add_subparsers(dest="action", required=True)
    for name, handler, help_text in (
        ("up", cmd_cluster_up, "create (or reuse) a kind cluster; builds the node image offline "
                               "when no registry answers"),
        ("down", cmd_cluster_down, "delete the cluster, its containers and kubeconfig"),
        ("status", cmd_cluster_status, "show nodes and kube-system readiness as JSON"),
    ):
        p = csub.add_parser(name, help=help_text, description=help_text)
        _add_cluster_options(p)
        if name == "up":
            p.add_argument("--no-metrics-server", action="store_true",
                           help="skip metrics-server, which is otherwise built from its Go "
                                "module (cached), installed (idempotent: a running cluster gets "
                                "it too) and waited for, so `kubectl top` and "
                                "HorizontalPodAutoscalers work")
        p.set_defaults(handler=handler)
    help_text = ("copy images from the local Docker engine into every node of the cluster "
                 "(no registry needed); kube-chaos's own workload images are built first")
    p = csub.add_parser("load", help=help_text, description=help_text)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image reference, e.g. myapp:1.2")
    _add_cluster_options(p)
    p.set_defaults(handler=cmd_cluster_load)
    agent = sub.add_parser("agent", help="the node agent (--chaos-node-access agent)")
    asub = agent.add_subparsers(dest="action", required=True)
    help_text = ("build the node agent's image offline (cached) and print its tag: what "
                 "--chaos-agent-image names by default")
    p = asub.add_parser("image", help=help_text, description=help_text)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--load", metavar="CLUSTER",
                       help="also copy it onto the nodes of this kind cluster")
    where.add_argument("--save", metavar="TAR",
                       help="also write it to TAR (docker save), for your registry")
    p.set_defaults(handler=cmd_agent_image)
    p = csub.add_parser("build-image", help="build the offline kind node image (cached)",
                        description="Build the offline kind node image from Go modules and "
                                    "Debian packages; cached under ~/.cache/kube-chaos.")
    p.add_argument("--force", action="store_true",
                   help="rebuild even if the engine holds the image (with an empty "
                        "KUBE_CHAOS_CACHE, GOCACHE and GOMODCACHE: a cold build)")
    p.set_defaults(handler=cmd_build_image)
    help_text = ("build optional components (a Prometheus server, the HA load balancer's root "
                 "filesystem ...) into the cache ahead of time; safe beside a running test suite")
    p = csub.add_parser("prebuild", help=help_text, description=help_text)
    p.add_argument("components", nargs="*", metavar="COMPONENT",
                   help="what to build (default: all)")
    p.set_defaults(handler=cmd_prebuild)
