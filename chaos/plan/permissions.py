"""The Kubernetes permissions one experiment needs: what `kube-chaos plan` checks with
SelfSubjectAccessReviews and what `kube-chaos rbac` turns into a Role and a ClusterRole.

Namespaced wherever the API allows: only nodes (and, for drains, pods across namespaces)
need cluster scope. What each fault needs is its type's declared ``rbac``
(chaos.model.faults). Pure data over the experiment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chaos.model.experiment import Experiment

NAMESPACED_KINDS = {  # kind -> (API group, resource) for manifests we create
    "Deployment": ("apps", "deployments"), "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"), "ReplicaSet": ("apps", "replicasets"),
    "Service": ("", "services"), "ConfigMap": ("", "configmaps"), "Secret": ("", "secrets"),
    "ServiceAccount": ("", "serviceaccounts"), "Pod": ("", "pods"),
    "PodDisruptionBudget": ("policy", "poddisruptionbudgets"),
    "Job": ("batch", "jobs"), "CronJob": ("batch", "cronjobs"),
    "HorizontalPodAutoscaler": ("autoscaling", "horizontalpodautoscalers"),
    "Role": ("rbac.authorization.k8s.io", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
    "Ingress": ("networking.k8s.io", "ingresses"),
    "PersistentVolumeClaim": ("", "persistentvolumeclaims"),
}


@dataclass(frozen=True, slots=True)
class Permission:
    verb: str
    group: str  # "" is the core API group
    resource: str  # may carry a subresource: "pods/eviction"
    namespace: str | None  # None: cluster-wide

    def __str__(self) -> str:
        where = f"in namespace {self.namespace}" if self.namespace else "cluster-wide"
        group = f"{self.group}/" if self.group else ""
        return f"{self.verb} {group}{self.resource} {where}"

    def key(self) -> tuple[str, str, str, str]:
        return (self.namespace or "", self.group, self.resource, self.verb)


def _each(verbs: Iterable[str], group: str, resource: str,
          namespace: str | None) -> list[Permission]:
    return [Permission(v, group, resource, namespace) for v in verbs]


def needed(exp: Experiment, namespace: str, manifest_kinds: Iterable[str] = ()
           ) -> list[Permission]:
    """Every permission a run of ``exp`` in ``namespace`` uses, sorted, each once."""
    ns = namespace
    read = ("get", "list", "watch")
    perms = [
        *_each(read, "", "pods", ns), *_each(read, "discovery.k8s.io", "endpointslices", ns),
        *_each(read, "", "events", ns), *_each(("create",), "", "events", ns),
        *_each(read, "", "nodes", None), *_each(("get",), "", "services", ns),
        *_each(("get",), "", "namespaces", None),
        # the kill switch's marker (kube-system/kube-chaos-halt), read before and during a run
        *_each(("get",), "", "configmaps", "kube-system"),
    ]
    existing = exp.workload.existing
    if existing is None:
        perms += _each(("create", "delete"), "", "namespaces", None)
        perms += _each(("list", "delete"), "", "services", ns)
        for kind in dict.fromkeys(manifest_kinds):
            group, resource = NAMESPACED_KINDS.get(kind, ("", kind.lower() + "s"))
            perms += _each(("create",), group, resource, ns)
        perms += _each(read, "apps", "deployments", ns)
        perms += _each(read, "apps", "statefulsets", ns)
        perms += _each(read, "apps", "daemonsets", ns)
    else:
        perms += _each(("list",), "policy", "poddisruptionbudgets", ns)  # the plan shows them
        if existing.kind:
            group, resource = NAMESPACED_KINDS[existing.kind]
            perms += _each(read, group, resource, ns)
    for fault in exp.faults:
        for access in fault.permissions():
            perms += _each(access.verbs, access.group, access.resource,
                           None if access.cluster_wide else ns)
    return sorted(set(perms), key=Permission.key)


def rbac_manifest(name: str, perms: Iterable[Permission]) -> str:
    """A Role per namespace and one ClusterRole granting exactly ``perms``, as YAML."""
    by_scope: dict[str | None, dict[tuple[str, str], set[str]]] = {}
    for p in perms:
        by_scope.setdefault(p.namespace, {}).setdefault((p.group, p.resource), set()).add(p.verb)
    docs = []
    for scope, rules in sorted(by_scope.items(), key=lambda kv: kv[0] or ""):
        kind = "ClusterRole" if scope is None else "Role"
        meta = f"  name: {name}\n" + (f"  namespace: {scope}\n" if scope else "")
        lines = [f"apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata:\n{meta}rules:"]
        for (group, resource), verbs in sorted(rules.items()):
            lines.append(f"  - apiGroups: [\"{group}\"]\n    resources: [\"{resource}\"]\n"
                         f"    verbs: [{', '.join(sorted(verbs))}]")
        docs.append("\n".join(lines))
    return "\n---\n".join(docs) + "\n"
