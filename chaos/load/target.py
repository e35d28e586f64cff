"""Safety: load traffic goes only to this machine and to hosts the user allow-lists."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from chaos.errors import SafetyRefused

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class TargetRefused(SafetyRefused, ValueError):
    """A load target on a host nobody allowed (or not a usable http URL)."""


def allowed_hosts(extra: Iterable[str] = ()) -> frozenset[str]:
    """This machine, plus the hosts named with --chaos-allow-host (case-insensitive)."""
    return LOCAL_HOSTS | {h.strip().lower().strip("[]") for h in extra if h.strip()}


def check_target(url: str, allowed: Iterable[str] = LOCAL_HOSTS) -> str:
    """Return ``url`` without a trailing slash if it is http(s) on an allowed host, else raise.

    The kind cluster publishes its NodePorts on 127.0.0.1, so CI never needs another target; a
    game day names its staging hosts. Refusing everything else keeps a typo from load-testing
    someone else's service.
    """
    hosts = frozenset(h.lower() for h in allowed)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused(f"load target {url!r}: scheme must be http or https")
    host = (parts.hostname or "").lower()
    if host not in hosts:
        extra = sorted(hosts - LOCAL_HOSTS)
        raise TargetRefused(
            f"load target {url!r}: host {parts.hostname!r} is not allowed; kube-chaos sends "
            f"load only to {', '.join(sorted(LOCAL_HOSTS))}"
            + (f" and the allowed hosts {', '.join(extra)}" if extra else "")
            + f". To allow it: --chaos-allow-host={parts.hostname} (ini: chaos_allow_host)"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as e:
        raise TargetRefused(f"load target {url!r}: bad port") from e
    if parts.username or parts.password:
        raise TargetRefused(f"load target {url!r}: credentials in the URL are not supported")
    return url.rstrip("/")


def check_local_target(url: str) -> str:
    """``check_target`` with this machine as the only allowed host."""
    return check_target(url, LOCAL_HOSTS)
