"""The bundled workload's own Go tests (chaos/workloads/httpd), run where CI runs the suite.

httpd is what every e2e experiment measures against; its probe, delay and CPU-per-request
behaviour is tested in Go next to the code, and this runs those tests (with go vet) so a
change to the workload cannot land untested. Go is required to build the workload image at
all, so a missing toolchain fails here rather than skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from chaos.cluster.workload_image import HTTPD_SOURCE


def _go(*args: str) -> subprocess.CompletedProcess[str]:
    go = shutil.which("go")
    assert go, "go is not on PATH: the workload image cannot be built without it"
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
    return subprocess.run([go, *args], cwd=HTTPD_SOURCE, env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def test_httpd_go_vet_and_tests_pass() -> None:
    vet = _go("vet", "./...")
    assert vet.returncode == 0, vet.stdout + vet.stderr
    tests = _go("test", "-count=1", "./...")
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "ok" in tests.stdout, tests.stdout
