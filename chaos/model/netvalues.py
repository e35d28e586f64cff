"""Network values as experiment files write them: rates (``1mbit``, as tc spells them) and
peers (whom a network fault separates the selected pods from)."""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass

from chaos.errors import excerpt
from chaos.model.selector import Selector

RATE_UNITS = {"bit": 1, "kbit": 1_000, "mbit": 1_000_000, "gbit": 1_000_000_000}
MIN_RATE_BPS = 8_000  # below this a token bucket cannot pass one full-size packet per second
MAX_RATE_BPS = 100_000_000_000
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
RATE_HINT = "a rate such as 512kbit, 1mbit or 1.5gbit (bits per second, as tc writes them)"


def parse_rate(value: object) -> int:
    """Bits per second; raises ValueError on anything else.

    Only the ``bit`` units are accepted: tc reads ``mbps`` as megaBYTES per second, a factor
    of eight nobody should have to remember while writing an experiment.
    """
    if not isinstance(value, str):
        raise ValueError(f"not a rate: {excerpt(value)} (give a unit, e.g. 1mbit)")
    m = _RATE.fullmatch(value.strip())
    if m is None or m.group(2) not in RATE_UNITS:
        raise ValueError(f"not a rate: {excerpt(value)}")
    bps = float(m.group(1)) * RATE_UNITS[m.group(2)]
    if math.isinf(bps) or not MIN_RATE_BPS <= bps <= MAX_RATE_BPS:
        raise ValueError(f"rate {excerpt(value)} is outside {format_rate(MIN_RATE_BPS)}.."
                         f"{format_rate(MAX_RATE_BPS)}")
    return round(bps)


def format_rate(bps: int) -> str:
    """The largest unit that keeps the figure whole, e.g. 1500000 -> 1500kbit."""
    for unit in ("gbit", "mbit", "kbit"):
        if bps % RATE_UNITS[unit] == 0:
            return f"{bps // RATE_UNITS[unit]}{unit}"
    return f"{bps}bit"


def parse_cidr(value: str) -> str:
    """One address or network, normalised (host bits cleared); raises ValueError."""
    return str(ipaddress.ip_network(value.strip(), strict=False))


@dataclass(frozen=True, slots=True)
class Peer:
    """The other side of a network fault: exactly one of the three is set.

    Resolved to addresses when the fault starts: ``selector`` to the pod IPs of the matching
    pods of the experiment's namespace, ``service`` to the Service's cluster IPs plus the IPs
    of the pods it selects (replies through a cluster IP come back from it, while its pods'
    own connections come from their pod IPs), ``cidrs`` as written.
    """

    selector: Selector | None = None
    cidrs: tuple[str, ...] = ()
    service: str | None = None

    def describe(self) -> str:
        if self.selector is not None:
            return f"pods {self.selector.to_label_selector()}"
        if self.service is not None:
            return f"Service {self.service}"
        return ", ".join(self.cidrs)
