"""kube-chaos default locustfile: GET one path at a constant pace.

Runs inside the locust subprocess (never import it from the harness).  Per-request capture is
not here but in ``kube_chaos_capture.py``, which the runner loads next to any locustfile.

Environment: KUBE_CHAOS_PATH (default "/"), KUBE_CHAOS_WAIT_S (default 0.1),
KUBE_CHAOS_TIMEOUT_S (per-request timeout, default 5), KUBE_CHAOS_MAX_REQUESTS (optional:
no user starts a request beyond this total, so the bound is exact), KUBE_CHAOS_KEEPALIVE
("0": close the connection after every request, so each one is routed afresh).
"""

from __future__ import annotations

import os

from locust import HttpUser, constant, task
from locust.exception import StopUser

PATH = os.environ.get("KUBE_CHAOS_PATH", "/")
WAIT_S = float(os.environ.get("KUBE_CHAOS_WAIT_S", "0.1"))
TIMEOUT_S = float(os.environ.get("KUBE_CHAOS_TIMEOUT_S", "5"))
_MAX = os.environ.get("KUBE_CHAOS_MAX_REQUESTS", "")
MAX_REQUESTS = int(_MAX) if _MAX else None
HEADERS = {} if os.environ.get("KUBE_CHAOS_KEEPALIVE", "1") != "0" else {"Connection": "close"}

_issued = 0


class ChaosHttpUser(HttpUser):
    wait_time = constant(WAIT_S)

    @task
    def get_path(self) -> None:
        global _issued
        if MAX_REQUESTS is not None and _issued >= MAX_REQUESTS:
            raise StopUser()  # the capture module quits the run when the last one completes
        _issued += 1
        # Without a timeout a request to a vanished pod/node could hang a user for minutes.
        self.client.get(PATH, name=PATH, timeout=TIMEOUT_S, headers=HEADERS)
