# kube-chaos: the two commands of the README, plus the pieces they are made of.
#   make experiments   the main job: every bundled experiment against an auto-provisioned
#                      kind cluster (built offline when no registry answers); reports/
#   make test          the test suite: unit, plugin (pytester) and end-to-end on real kind
#   make mutation      mutation testing (mutmut) of the decision, journal, runner and undo code
#                      against the unit and plugin tests; slow, so a developer command, never
#                      part of `make test` or CI. Prints the score per module at the end.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PYTEST  = $(BIN)/python -m pytest

.PHONY: venv chromium experiments test test-ha test-scale bench-scale unit lint mutation mutation-score down clean

$(BIN)/kube-chaos: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@echo "kube-chaos: installing kube-chaos and its dependencies into $(VENV) (pip lists each package)"
	$(BIN)/pip install --progress-bar off -c constraints.txt -e ".[dev]"
	touch $@

venv: $(BIN)/kube-chaos

# PARALLEL=N (or auto) runs up to N experiments at once (--chaos-parallel; README, "Experiments
# side by side"); one at a time by default until the side-by-side figures are measured against
# the sequential ones (issue 20)
# --timeout: the cold builds run inside the first item that needs them (the node image and
# cluster, metrics-server for the HPA experiments). On a bare 2-core machine that was busy with
# other work they took 18 and over 13 min (docs/measurements.md), past the 20 min per item that
# pyproject sets for the test suite, and the item failed on set-up, not on its verdict. Each
# experiment's own spec.timeout still bounds its run; this only catches a hang.
PARALLEL ?= 1
experiments: venv
	$(PYTEST) -m chaos experiments/ -v --chaos-keep-cluster --chaos-parallel $(PARALLEL) \
		--timeout 3600 --junitxml=reports/junit.xml

# the HTML reports' e2e check drives a real headless Chromium: from Debian's archive when missing
# (tests/e2e/test_reports.py fails, never skips, without it)
chromium:
	@command -v chromium >/dev/null || { echo "kube-chaos: installing chromium from Debian's archive"; \
	  flock /tmp/kube-chaos-apt.lock sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	  apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium'; }

test: venv chromium
	$(PYTEST) tests/ -v -rA --chaos-keep-cluster --durations=40

# the HA control plane (tests/e2e_ha): a 3-control-plane cluster of its own (kc-ha, NodePorts on
# 127.0.0.1:31080-31099) and the experiments/ha runs on it; about 6 minutes, run by .ci/run after make test
test-ha: venv
	$(PYTEST) tests/e2e_ha -v -rA --durations=10

# the KWOK scale check alone (tests/e2e_scale, also collected by `make test`): a 1-node cluster
# of its own (kc-scale-e2e), kwok built from its Go module, 20 fake nodes, 200 fake pods; ~3 min
test-scale: venv
	$(PYTEST) tests/e2e_scale -v -rA --durations=10

# the scale benchmark at full size (docs/scale.md, docs/measurements.md); slow, never in CI
bench-scale: venv
	nice -n 10 $(BIN)/python benchmarks/bench_scale.py --pods 1000,5000,10000 --nodes 100,1000

unit: venv
	$(PYTEST) tests/unit tests/plugin -q

lint: venv
	$(BIN)/ruff check chaos tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# one worker, lowest priority: the machine may be running a timing-sensitive e2e job;
# mutmut keeps its results in mutants/ and only runs mutants it has no verdict for
MUTATION_NICE ?= nice -n 19
mutation: venv
	@start=$$(date +%s); \
	PATH="$(abspath $(BIN)):$$PATH" $(MUTATION_NICE) $(BIN)/mutmut run --max-children 1; \
	rc=$$?; echo "mutmut exit code $$rc after $$(( $$(date +%s) - start )) s"; \
	$(BIN)/python benchmarks/mutation_score.py && exit $$rc

# the score per module, and docs/mutation-survivors.md: every mutant not killed, per function,
# with its category from benchmarks/mutation_notes.toml
mutation-score: venv
	$(BIN)/python benchmarks/mutation_score.py --list docs/mutation-survivors.md

down: venv
	$(BIN)/kube-chaos cluster down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache mutants
