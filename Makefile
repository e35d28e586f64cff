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

.PHONY: venv experiments test unit lint mutation mutation-score down clean

$(BIN)/kube-chaos: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

venv: $(BIN)/kube-chaos

experiments: venv
	$(PYTEST) -m chaos experiments/ -v --chaos-keep-cluster --junitxml=reports/junit.xml

test: venv
	$(PYTEST) tests/ -v -rA --chaos-keep-cluster --durations=40

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

mutation-score: venv
	$(BIN)/python benchmarks/mutation_score.py --survivors

down: venv
	$(BIN)/kube-chaos cluster down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache mutants
