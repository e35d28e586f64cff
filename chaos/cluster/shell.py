"""Running build and provisioning commands with logs a user can read."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from chaos.errors import BuildFailed

# Our own apt-get calls (Docker engine, debootstrap; the Makefile's Chromium) may run at once
# when CI prebuilds in the background: each waits for the others on this lock, and for any other
# apt user on dpkg's own lock, instead of failing with "Could not get lock".
APT_LOCK = "/tmp/kube-chaos-apt.lock"


def apt_get(*args: str) -> list[str]:
    """argv of one apt-get call that waits its turn (see APT_LOCK)."""
    return ["flock", APT_LOCK, "apt-get", "-o", "DPkg::Lock::Timeout=600", *args]


def run_logged(
    step: str,
    argv: Sequence[str],
    log: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float | None = None,
) -> str:
    """Run a build step, appending its output to `log`; raise BuildFailed naming both.

    Output goes to a file rather than the terminal because Go and debootstrap are
    chatty; the error tells the user which step failed and which log to read.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with log.open("ab") as fh:
        fh.write(f"\n$ {' '.join(argv)}\n".encode())
        fh.flush()
        try:
            proc = subprocess.run(
                list(argv),
                cwd=cwd,
                env=full_env,
                input=stdin,
                stdout=subprocess.PIPE,
                stderr=fh,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise BuildFailed(step, log, f"command not found: {argv[0]}") from exc
        except subprocess.TimeoutExpired as exc:
            raise BuildFailed(step, log, f"timed out after {timeout:.0f}s") from exc
        fh.write(proc.stdout)
    if proc.returncode != 0:
        raise BuildFailed(step, log, f"exit status {proc.returncode}")
    return proc.stdout.decode(errors="replace")


def capture(argv: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run a quick query command; never raises for a non-zero exit."""
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))


def which(name: str) -> str | None:
    return shutil.which(name)
