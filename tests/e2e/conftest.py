"""e2e plumbing: the Observers that fault tests start through make_ctx are stopped after
each test, so no watch outlives its namespace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_faults_helpers import OBSERVERS


@pytest.fixture(autouse=True)
def _stop_observers() -> Iterator[None]:
    yield
    while OBSERVERS:
        OBSERVERS.pop().stop()
