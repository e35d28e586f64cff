"""Safety: load traffic may only go to this machine."""

from __future__ import annotations

from urllib.parse import urlsplit

from chaos.errors import SafetyRefused

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class TargetRefused(SafetyRefused, ValueError):
    """A load target that is not this machine (or not a usable http URL)."""


def check_local_target(url: str) -> str:
    """Return ``url`` without a trailing slash if it is http(s) on a loopback host, else raise.

    The kind cluster publishes its NodePorts on 127.0.0.1, so a chaos run never needs any other
    target; refusing everything else keeps a typo from load-testing someone else's service.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"load target {url!r}: scheme must be http or https")
    host = (parts.hostname or "").lower()
    if host not in LOCAL_HOSTS:
        raise TargetRefused(
            f"load target {url!r}: host {parts.hostname!r} is not local; kube-chaos only sends "
            f"load to {', '.join(sorted(LOCAL_HOSTS))} (the kind cluster's published NodePorts)"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as e:
        raise TargetRefused(f"load target {url!r}: bad port") from e
    if parts.username or parts.password:
        raise TargetRefused(f"load target {url!r}: credentials in the URL are not supported")
    return url.rstrip("/")
