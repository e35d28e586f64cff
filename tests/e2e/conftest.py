"""e2e plumbing: the Observers that fault tests start through make_ctx are stopped after
each test, so no watch outlives its namespace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_faults_helpers import OBSERVERS

# Last among the e2e tests: the only ones that need metrics-server, whose cold build (7 CPU-minutes)
# CI's background prebuild (kube-chaos cluster prebuild) then has time to finish.
LATE = ("tests/e2e/test_autoscaling.py",)


# First: the first e2e test's setup builds the node image and the cluster (over 10 minutes
# cold), inside that test's timeout. These keep the default (pyproject's 20 minutes); a test
# with a short timeout of its own that sorted first would time out in that build, and every
# e2e test after it would error on the failed session fixture (seen: a 420 s one, cold CI).
FIRST = ("tests/e2e/test_cluster.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    first = [i for i in items if i.nodeid.startswith(FIRST)]
    items[:] = first + [i for i in items if not i.nodeid.startswith(FIRST)]
    late = [i for i in items if i.nodeid.startswith(LATE)]
    if not late:
        return
    rest = [i for i in items if not i.nodeid.startswith(LATE)]
    e2e = [n for n, i in enumerate(rest) if i.nodeid.startswith("tests/e2e/")]
    at = e2e[-1] + 1 if e2e else len(rest)
    items[:] = rest[:at] + late + rest[at:]


@pytest.fixture(autouse=True)
def _stop_observers() -> Iterator[None]:
    yield
    while OBSERVERS:
        OBSERVERS.pop().stop()
