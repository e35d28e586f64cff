"""kube-chaos default locustfile: GET one path at a constant pace.

Runs inside the locust subprocess (never import it from the harness).  Per-request capture is
not here but in ``kube_chaos_capture.py``, which the runner loads next to any locustfile.

Environment: KUBE_CHAOS_PATH (default "/"), KUBE_CHAOS_WAIT_S (default 0.1),
KUBE_CHAOS_TIMEOUT_S (per-request timeout, default 5), KUBE_CHAOS_MAX_REQUESTS (optional:
no user starts a request beyond this total, so the bound is exact), KUBE_CHAOS_KEEPALIVE
("0": close the connection after every request, so each one is routed afresh),
KUBE_CHAOS_HEADERS (JSON object of headers sent with every request), KUBE_CHAOS_TLS_VERIFY
("0": do not verify the server's certificate).
"""

from __future__ import annotations

import json
import os

from locust import HttpUser, constant, task
from locust.exception import StopUser

PATH = os.environ.get("KUBE_CHAOS_PATH", "/")
WAIT_S = float(os.environ.get("KUBE_CHAOS_WAIT_S", "0.1"))
TIMEOUT_S = float(os.environ.get("KUBE_CHAOS_TIMEOUT_S", "5"))
_MAX = os.environ.get("KUBE_CHAOS_MAX_REQUESTS", "")
MAX_REQUESTS = int(_MAX) if _MAX else None
HEADERS: dict[str, str] = json.loads(os.environ.get("KUBE_CHAOS_HEADERS") or "{}")
if os.environ.get("KUBE_CHAOS_KEEPALIVE", "1") == "0":
    HEADERS["Connection"] = "close"
VERIFY = os.environ.get("KUBE_CHAOS_TLS_VERIFY", "1") != "0"

_issued = 0


class ChaosHttpUser(HttpUser):
    wait_time = constant(WAIT_S)

    def on_start(self) -> None:
        self.client.verify = VERIFY

    @task
    def get_path(self) -> None:
        global _issued
        if MAX_REQUESTS is not None and _issued >= MAX_REQUESTS:
            raise StopUser()  # the capture module quits the run when the last one completes
        _issued += 1
        # Without a timeout a request to a vanished pod/node could hang a user for minutes.
        self.client.get(PATH, name=PATH, timeout=TIMEOUT_S, headers=HEADERS)
