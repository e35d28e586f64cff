# kube-chaos: the two commands of the README, plus the pieces they are made of.
#   make experiments   the main job: every bundled experiment against an auto-provisioned
#                      kind cluster (built offline when no registry answers); reports/
#   make test          the test suite: unit, plugin (pytester) and end-to-end on real kind
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PYTEST  = $(BIN)/python -m pytest

.PHONY: venv experiments test unit lint down clean

$(BIN)/kube-chaos: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	@echo "kube-chaos: installing kube-chaos and its dependencies into $(VENV) (pip lists each package)"
	$(BIN)/pip install --progress-bar off -e ".[dev]"
	touch $@

venv: $(BIN)/kube-chaos

experiments: venv
	$(PYTEST) -m chaos experiments/ -v --chaos-keep-cluster --junitxml=reports/junit.xml

test: venv
	$(PYTEST) tests/ -v -rA --chaos-keep-cluster

unit: venv
	$(PYTEST) tests/unit tests/plugin -q

lint: venv
	$(BIN)/ruff check chaos tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

down: venv
	$(BIN)/kube-chaos cluster down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
