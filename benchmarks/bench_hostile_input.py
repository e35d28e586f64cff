"""Cost of reading hostile input: each file of the test corpus, in a fresh interpreter.

For every ``tests/unit/corpus/*.yaml`` (or the files given) a child process imports kube-chaos,
then loads the file three times: timed, under tracemalloc (peak of Python allocations), and
for the growth of the process's peak RSS (which also sees libyaml's C allocations). Prints the
worst files by each measure; exits 1 if any file raised anything but ExperimentInvalid.

    python benchmarks/bench_hostile_input.py [FILE.yaml ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "unit" / "corpus"

CHILD = r"""
import json, resource, sys, time, tracemalloc
from chaos.errors import ExperimentInvalid
from chaos.model.parse import load_experiment

def load(path):
    try:
        load_experiment(path)
        return "no error"
    except ExperimentInvalid as exc:
        return None if str(exc) else "empty message"
    except BaseException as exc:
        return f"{type(exc).__name__}: {exc}"

path = sys.argv[1]
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
problem = load(path)
seconds = time.perf_counter() - start
rss_growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
tracemalloc.start()
load(path)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1e6, "rss_growth_mb": rss_growth_kib / 1024,
                  "problem": problem}))
"""


def measure(path: Path) -> dict[str, float | str | None]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                         check=True).stdout
    result: dict[str, float | str | None] = json.loads(out)
    return result


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted(CORPUS.glob("*.yaml"))
    results = {f.name: measure(f) for f in files}
    bad = {name: r["problem"] for name, r in results.items() if r["problem"]}
    print(f"{len(results)} files, {len(bad)} without a clean ExperimentInvalid")
    for name, problem in bad.items():
        print(f"  {name}: {problem}")
    for key, unit in (("seconds", "s"), ("peak_mb", " MB"), ("rss_growth_mb", " MB")):
        worst = sorted(results.items(), key=lambda item: -float(item[1][key] or 0))[:3]
        shown = ", ".join(f"{name} {float(r[key] or 0):.3f}{unit}" for name, r in worst)
        print(f"worst {key}: {shown}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
