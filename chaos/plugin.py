"""pytest plugin entry point (pytest11: kube_chaos)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: a chaos experiment (needs a Kubernetes cluster)")
