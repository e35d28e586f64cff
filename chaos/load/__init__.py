"""Load generation: locust in a subprocess, per-request capture, typed records.

Never import locust (or ``chaos.load.locustfile`` / ``chaos.load.kube_chaos_capture``) in the
harness process; those files are loaded by the locust subprocess only.
"""

from chaos.load.records import CaptureReader, RequestRecord, parse_capture
from chaos.load.runner import LoadError, LoadResult, LoadRun
from chaos.load.target import TargetRefused, check_local_target

__all__ = [
    "CaptureReader",
    "LoadError",
    "LoadResult",
    "LoadRun",
    "RequestRecord",
    "TargetRefused",
    "check_local_target",
    "parse_capture",
]
