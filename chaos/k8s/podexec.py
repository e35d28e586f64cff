"""Run a command in a pod's container through the API server (``pods/exec``), as
``kubectl exec`` does: the node agent's only channel to the runner (chaos.node.agent).

A command that runs and fails is an answer (its exit code, stdout and stderr), never an
exception; ``ExecTransportError`` means the API path itself failed (the pod, the API server or
the websocket), so whatever the command was meant to do may or may not have happened.

Each exec has an ApiClient of its own: the client's ``stream`` swaps the transport of the
ApiClient it is handed for the time of the call, and an exec sharing the run's ApiClient with a
concurrent plain request broke that request ("Handshake status 200 OK").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from urllib3.exceptions import HTTPError

from chaos.errors import ClusterError
from chaos.k8s.client import Kube

STDOUT, STDERR, ERROR = 1, 2, 3


class ExecTransportError(ClusterError):
    """The exec could not be run or its end could not be read: the API path failed."""


@dataclass(frozen=True, slots=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str


def exit_status(error_channel: str) -> int:
    """The exit code the API server's error channel (a metav1.Status) reports; raises
    ExecTransportError when it reports something other than the command's own exit (the
    container gone, the binary missing) or cannot be read."""
    try:
        status = json.loads(error_channel) if error_channel.strip() else None
    except ValueError:
        status = None
    if not isinstance(status, dict):
        raise ExecTransportError(f"exec ended without a status: {error_channel[:200]!r}")
    if status.get("status") == "Success":
        return 0
    details = status.get("details")
    if not isinstance(details, dict):
        details = {}
    if status.get("reason") == "NonZeroExitCode":
        for cause in details.get("causes") or []:
            if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message", ""))
                except ValueError:
                    break
    raise ExecTransportError(f"exec failed: {status.get('message') or error_channel[:200]}")


def _client_for(kube: Kube) -> client.ApiClient:
    return client.ApiClient(configuration=kube.api.configuration)


def run_in_pod(kube: Kube, namespace: str, pod: str, argv: list[str], *,
               container: str | None = None, timeout: float = 30) -> ExecResult:
    """Run ``argv`` in ``pod`` and wait for it to end, at most ``timeout`` seconds (then
    ExecTransportError: the command may still be running)."""
    api = _client_for(kube)
    try:
        core = client.CoreV1Api(api)
        kwargs: dict[str, Any] = {"command": argv, "stdin": False, "stdout": True,
                                  "stderr": True, "tty": False, "_preload_content": False}
        if container:
            kwargs["container"] = container
        try:
            ws = stream(core.connect_get_namespaced_pod_exec, pod, namespace, **kwargs)
        except (ApiException, HTTPError, OSError, ValueError) as exc:
            raise ExecTransportError(f"exec in pod {namespace}/{pod}: {_why(exc)}") from exc
        except Exception as exc:  # websocket's own exceptions (handshake, closed socket)
            raise ExecTransportError(f"exec in pod {namespace}/{pod}: {_why(exc)}") from exc
        try:
            ws.run_forever(timeout=timeout)
            if ws.is_open():
                raise ExecTransportError(f"exec in pod {namespace}/{pod}: {argv[0]} still "
                                         f"running after {timeout:g}s")
            out = ws.read_channel(STDOUT)
            err = ws.read_channel(STDERR)
            code = exit_status(ws.read_channel(ERROR))
        except ExecTransportError:
            raise
        except Exception as exc:
            raise ExecTransportError(f"exec in pod {namespace}/{pod}: {_why(exc)}") from exc
        finally:
            ws.close()
        return ExecResult(code, out, err)
    finally:
        api.close()


def _why(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}: {str(exc.body)[:200]}"
    return str(exc) or type(exc).__name__
