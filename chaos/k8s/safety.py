"""The safety gate: faults only on clusters kube-chaos provisioned, or that the user named.

One gate for every path that can change a cluster (a run, a fixture, `kube-chaos plan`, the
end-to-end tests' own faults), so that none of them can be looser than the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from chaos.errors import SafetyRefused
from chaos.k8s import health
from chaos.k8s.client import Kube


def refuse_unless_ours(kube: Kube, allow_contexts: Iterable[str],
                       why_not_ours: Callable[[Kube], str | None] | None = None, *,
                       doing: str = "inject faults into", way_out: str | None = None) -> None:
    """Raise SafetyRefused, with the way out, unless ``kube``'s context is allow-listed or the
    cluster carries a marker naming this very cluster (see chaos.k8s.health). ``doing`` and
    ``way_out`` (the allow flag of the command at hand) only shape the message."""
    if kube.context in tuple(allow_contexts):
        return
    problem = (why_not_ours or health.provisioned_problem)(kube)
    if problem is None:
        return
    how = (f"{way_out}={kube.context}" if way_out is not None else
           f"--chaos-allow-context={kube.context} (or the chaos_allow_context ini option)")
    raise SafetyRefused(
        f"refusing to {doing} context {kube.context!r}: it is not a kind cluster "
        f"provisioned by kube-chaos ({problem}). If this really is a cluster you may break, "
        f"allow it with {how}."
    )
