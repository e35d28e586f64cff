"""Experiment tags become pytest markers: which names can, and the marker each one becomes.

pytest needs a marker name to be an identifier (``pytest.mark.<name>``) and ``-m`` needs it to be
no keyword; a tag that is one of pytest's own markers would change how the test runs (``skip``,
``xfail``, ``timeout`` ...), so those names are refused rather than silently taken.
"""

from __future__ import annotations

import keyword
import re

from chaos.errors import excerpt

# pytest's built-in markers, ours, and those of the plugins kube-chaos runs with.
RESERVED_MARKERS = frozenset({
    "chaos",
    "filterwarnings",
    "parametrize",
    "skip",
    "skipif",
    "timeout",  # pytest-timeout
    "tryfirst",
    "trylast",
    "usefixtures",
    "xdist_group",  # pytest-xdist
    "xfail",
})
_MARKER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def marker_name(tag: str) -> str:
    """The marker a tag becomes: '-' and '.' read as '_' (``slow-net`` -> ``slow_net``)."""
    return tag.replace("-", "_").replace(".", "_")


def tag_problem(tag: str) -> str | None:
    """Why ``tag`` cannot be a marker, or None when it can."""
    name = marker_name(tag)
    if not _MARKER.fullmatch(name):
        return (f"{excerpt(tag)} cannot be a pytest marker: use ASCII letters, digits, '_', '-' "
                "or '.', starting with a letter")
    if keyword.iskeyword(name):
        return f"{excerpt(tag)} is a Python keyword, which pytest -m cannot select"
    if name in RESERVED_MARKERS:
        return (f"{excerpt(tag)} is pytest's own {name!r} marker and would change how the "
                "experiment runs; choose another tag")
    return None
