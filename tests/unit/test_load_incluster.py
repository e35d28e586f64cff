"""In-cluster load without a cluster: the experiment field, the clock-offset arithmetic and the
line shift of the locust side (in a subprocess: it imports locust), and the whole streaming
transport with real locust processes started by a stand-in for the pod launcher."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from chaos.errors import ExperimentInvalid
from chaos.load import LoadRun
from chaos.load.records import parse_capture
from chaos.load.runner import POD_MODULES_DIR, InCluster
from chaos.model.parse import parse_experiment
from tests.unit.test_load_open_run import Server, server  # noqa: F401 - the fixture

pytestmark = pytest.mark.timeout(120)
LOAD_DIR = Path(__file__).resolve().parents[2] / "chaos" / "load"


# -- the experiment field ---------------------------------------------------------------------

def _with_load(good: str, extra: str) -> str:
    return good.replace("    users: 10\n", "    users: 10\n" + extra, 1)


def test_in_cluster_workers_parse(good: str, exp_dir: Path) -> None:
    exp = parse_experiment(_with_load(good, "    inCluster: {workers: 3}\n"), exp_dir / "x.yaml")
    assert exp.load.in_cluster_workers == 3 and exp.load.workers == 1
    plain = parse_experiment(good, exp_dir / "x.yaml")
    assert plain.load.in_cluster_workers == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    inCluster: {workers: 0}\n",
         "x.yaml:16: spec.load.inCluster.workers: expected a number of worker processes from 1 "
         "to 64, got 0"),
        ("    inCluster: {}\n", "x.yaml:16: spec.load.inCluster.workers: required field missing"),
        ("    inCluster: {pods: 2}\n", "x.yaml:16: spec.load.inCluster.pods: unknown field"),
        ("    inCluster: 2\n", "x.yaml:16: spec.load.inCluster: expected a mapping"),
        ("    inCluster: {workers: 2}\n    workers: 2\n",
         "x.yaml:17: spec.load.workers: not with inCluster: local worker processes and "
         "in-cluster workers are one or the other"),
        ("    inCluster: {workers: 2}\n    url: http://staging.example:8080\n",
         "x.yaml:17: spec.load.url: not with inCluster: in-cluster workers reach "
         "spec.workload.service by its cluster DNS name"),
        ("    inCluster: {workers: 2}\n    locustfile: locustfile.py\n",
         "x.yaml:17: spec.load.locustfile: not with inCluster: the worker image holds"),
        ("    inCluster: {workers: 2}\n    headersFromEnv: {Authorization: TOKEN}\n",
         "x.yaml:17: spec.load.headersFromEnv: not with inCluster: the header values would be "
         "written into the worker pods' specs"),
    ],
)
def test_bad_in_cluster_load_names_file_line_and_field(good: str, exp_dir: Path, extra: str,
                                                       message: str) -> None:
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment(_with_load(good, extra), exp_dir / "x.yaml")
    assert message in str(info.value).replace(str(exp_dir / "x.yaml"), "x.yaml")


# -- the locust side's arithmetic (in its own process: importing locust patches this one) -----

_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import kube_chaos_capture as k
out = {}
p = k.Peer("w", 0, sys.argv[2])
# worker clock 2.5 s ahead; 10 ms each way, then a slow sample (100 ms out, 10 ms back)
p.sample(t0=100.0, t1=102.51, t2=102.52, t3=100.03)
p.sample(t0=101.0, t1=103.6, t2=103.6, t3=101.11)
out["samples"] = p.samples
out["ready_early"] = p.ready()
out["ready_forced"] = p.ready(force=True)
out["offset"] = p.offset
line = "110.000000\\t110.250000\\t0.300000\\t1\\t200\\t\\n"
closed = "110.000000\\t\\t0.300000\\t0\\t0\\tConnectionError: x\\n"
dropped = "110.000000\\t-\\t0.500000\\t0\\t0\\tDropped: y\\n"
out["shifted"] = k.shifted(line + closed + dropped, 2.5)
out["unshifted"] = k.shifted(line, 0.0) == line
p.add(line, 1, False, 1)
p.add(closed, 1, True, 2)
out["summary"] = p.summary()
print(json.dumps(out))
"""


def test_offset_is_the_ntp_midpoint_and_the_tightest_sample_corrects(tmp_path: Path) -> None:
    got = json.loads(subprocess.run(
        [sys.executable, "-c", _PROBE, str(LOAD_DIR), str(tmp_path)], check=True,
        capture_output=True, text=True, env=dict(os.environ, KUBE_CHAOS_CAPTURE="")).stdout)
    (off1, rtt1), (off2, rtt2) = got["samples"]
    assert off1 == pytest.approx(2.5) and rtt1 == pytest.approx(0.02)
    # an asymmetric path moves the estimate by half the asymmetry, within +- rtt/2
    assert off2 == pytest.approx(2.545) and rtt2 == pytest.approx(0.11)
    assert abs(off2 - 2.5) <= rtt2 / 2
    assert got["ready_early"] is False and got["ready_forced"] is True
    assert got["offset"] == pytest.approx([2.5, 0.02])  # the smaller round trip wins
    assert got["shifted"].splitlines() == [
        "107.500000\t107.750000\t0.300000\t1\t200\t",  # t and sent move; latency does not
        "107.500000\t\t0.300000\t0\t0\tConnectionError: x",
        "107.500000\t-\t0.500000\t0\t0\tDropped: y",
    ]
    assert got["unshifted"] is True
    summary = got["summary"]
    assert summary["offset_s"] == pytest.approx(2.5)
    assert summary["error_bound_s"] == pytest.approx(0.01)
    assert (summary["records"], summary["sent"], summary["final"]) == (2, 2, True)
    written = parse_capture(tmp_path / "requests-p0.tsv")
    assert [r.t for r in written] == [107.5, 107.5] and written[0].sent == 107.75
    text = (tmp_path / "requests-p0.tsv").read_text()
    assert "# clock offset_s=2.500000 error_bound_s=0.010000" in text


# -- the transport, end to end, with local processes standing in for the pods ------------------

class LocalPods:
    """Launches each 'pod' as a local locust worker, our modules read from the checkout where
    the image would have them. Records every launch and removal."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.procs: list[subprocess.Popen[bytes]] = []
        self.launched: list[tuple[int, tuple[str, ...], dict[str, str]]] = []
        self.removed = 0

    def launch(self, index: int, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.launched.append((index, tuple(args), dict(env)))
        local = [a.replace(POD_MODULES_DIR, str(LOAD_DIR)) for a in args]
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("KUBE_CHAOS_", "LOCUST_"))}
        with (self.out / f"pod-{index}.log").open("wb") as log:
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "locust", *local], env=clean | dict(env),
                stdout=log, stderr=subprocess.STDOUT, cwd=self.out))

    def remove(self) -> None:
        self.removed += 1
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_streamed_records_reach_the_master_exactly(server: Server, tmp_path: Path,  # noqa: F811
                                                   mode: str) -> None:
    pods = LocalPods(tmp_path)
    kwargs: dict[str, object] = (
        {"mode": "open", "rate_segments": [(100.0, 100.0, None)]} if mode == "open"
        else {"wait_s": 0.01})
    with LoadRun.start(server.url, users=2, spawn_rate=2, max_duration_s=3,
                       out_dir=tmp_path / "load", max_requests=1000,
                       in_cluster=InCluster(workers=2, bind_host="127.0.0.1", launcher=pods),
                       **kwargs) as run:  # type: ignore[arg-type]
        result = run.wait(timeout=110)
    assert pods.removed >= 1  # the pods went with the run
    # what each pod was told: only our own settings, its share, streaming on
    for index, args, env in pods.launched:
        assert "--worker" in args and args[args.index("--master-host") + 1] == "127.0.0.1"
        assert all(k.startswith("KUBE_CHAOS_") for k in env)
        assert env["KUBE_CHAOS_STREAM"] == "1" and env["KUBE_CHAOS_WORKER"] == str(index)
        assert "KUBE_CHAOS_CAPTURE" not in env
    assert [p.name for p in result.capture_paths] == ["requests-p0.tsv", "requests-p1.tsv"]
    per_file = [parse_capture(p) for p in result.capture_paths]
    assert all(len(f) > 10 for f in per_file), [len(f) for f in per_file]
    for worker, records in zip(result.streamed, per_file, strict=True):
        assert worker.sent == worker.records == len(records), worker
        # one machine: the true offset is 0, so it must lie within the estimate's own bound
        # (a fixed 10 ms failed on a loaded 2-core machine, where round trips grow)
        assert worker.offset_s is not None and worker.error_bound_s is not None
        assert abs(worker.offset_s) <= worker.error_bound_s + 1e-4, worker
        assert worker.samples >= 1
    assert len(result.records) == sum(len(f) for f in per_file) <= 1000
    merged = list(result.records)
    assert sorted(merged, key=lambda r: (r.end, r.t)) == sorted(
        (r for f in per_file for r in f), key=lambda r: (r.end, r.t)), "every record, once"
    # one timeline: a file is in the order its requests completed, which can differ from the
    # order of their computed ends by the write's own delay (well under a millisecond when the
    # machine is idle, tens of ms on a loaded one); files laid end to end would step back ~3 s
    ends = [r.end for r in merged]
    assert max((a - b for a, b in itertools.pairwise(ends)), default=0.0) < 0.1
    assert result.clock_offsets_s == tuple(w.offset_s for w in result.streamed)
    assert [g["index"] for g in result.generators] == [0, 1]
    if mode == "open":  # the schedule split over the pods: each keeps every other arrival
        assert all(r.scheduled for r in result.records)
        for records in per_file:
            ts = sorted(r.t for r in records)
            gaps = [b - a for a, b in itertools.pairwise(ts)]
            assert all(abs(g / 0.02 - round(g / 0.02)) < 0.05 and g > 0.019 for g in gaps)


def test_worker_pods_are_unprivileged_bare_and_prefer_the_control_plane() -> None:
    from chaos.k8s.loadpods import LABEL, pod_manifest

    pod = pod_manifest("kube-chaos-locust-ab12cd-1", "kube-chaos/locust-worker:x", 1,
                       ["--worker"], {"KUBE_CHAOS_STREAM": "1"})
    spec = pod["spec"]
    assert "ownerReferences" not in pod["metadata"] and spec["restartPolicy"] == "Never"
    assert pod["metadata"]["labels"][LABEL] == "1"
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    assert container["imagePullPolicy"] == "Never"  # loaded into the nodes, no registry
    assert container["env"] == [{"name": "KUBE_CHAOS_STREAM", "value": "1"}]
    ctx = container["securityContext"]
    assert ctx["runAsNonRoot"] and not ctx["allowPrivilegeEscalation"]
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    preferred = spec["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred[0]["preference"]["matchExpressions"][0]["key"] == \
        "node-role.kubernetes.io/control-plane"
    assert spec["tolerations"][0]["effect"] == "NoSchedule"
