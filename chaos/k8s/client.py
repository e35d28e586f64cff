"""API clients for one kubeconfig context, with our errors instead of the client's."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from chaos.errors import ClusterError


@dataclass(frozen=True)
class Kube:
    """Typed handles on the API groups kube-chaos uses."""

    api: client.ApiClient
    context: str

    @cached_property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @cached_property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @cached_property
    def policy(self) -> client.PolicyV1Api:
        return client.PolicyV1Api(self.api)

    @cached_property
    def discovery(self) -> client.DiscoveryV1Api:
        return client.DiscoveryV1Api(self.api)

    @cached_property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @cached_property
    def version(self) -> client.VersionApi:
        return client.VersionApi(self.api)


def connect(kubeconfig: Path | str | None, context: str | None) -> Kube:
    try:
        api = config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None, context=context
        )
    except (ConfigException, OSError, TypeError) as exc:
        raise ClusterError(
            f"cannot load kubeconfig {kubeconfig or '(default)'} context "
            f"{context or '(current)'}: {exc}"
        ) from exc
    if context is None:
        _, active = config.list_kube_config_contexts(config_file=str(kubeconfig) if kubeconfig
                                                     else None)
        context = active["name"]
    return Kube(api, context)


def contexts_of(kubeconfig: Path | str) -> list[str]:
    """The context names a kubeconfig file defines ([] when it cannot be read)."""
    try:
        found, _ = config.list_kube_config_contexts(config_file=str(kubeconfig))
    except (ConfigException, OSError, TypeError, ValueError):
        return []
    return [str(c["name"]) for c in found or []]


def client_version() -> str:
    import kubernetes

    return str(kubernetes.__version__)
