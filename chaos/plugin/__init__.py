"""pytest plugin (entry point `pytest11: kube_chaos = "chaos.plugin"`), split by concern:

- options.py      the `chaos` option group, each option with an ini fallback;
- session.py      per-session state, seed, SIGTERM, live progress, the kind cluster's end;
- environment.py  the session's run environment, made on first use;
- record.py       one run from pytest: result kept, JUnit properties, report.html;
- fixtures.py     chaos_cluster, chaos_env, chaos_seed, chaos_namespace, chaos_deploy,
                  chaos_load, chaos_experiment;
- collect.py      every YAML experiment file collected as test items with the `chaos` marker;
- items.py        an experiment item: run, and fail naming why;
- parallel.py     experiments side by side (pytest-xdist), each holding its claims as locks;
- terminal.py     the summary table at the end of the run.

pytest registers this module: the hooks and fixtures it finds here are those re-exported
below. The functions users call (load_experiment, run_experiment, assert_slas) are in `chaos`.
"""

from chaos.plugin.collect import pytest_collect_file
from chaos.plugin.fixtures import (
    chaos_cluster,
    chaos_deploy,
    chaos_env,
    chaos_experiment,
    chaos_load,
    chaos_namespace,
    chaos_seed,
    pytest_runtest_makereport,
)
from chaos.plugin.options import pytest_addoption
from chaos.plugin.parallel import pytest_cmdline_main, pytest_collection_modifyitems
from chaos.plugin.session import (
    pytest_configure,
    pytest_configure_node,
    pytest_report_header,
    pytest_sessionfinish,
    pytest_testnodedown,
)
from chaos.plugin.terminal import pytest_terminal_summary

__all__ = [
    "chaos_cluster",
    "chaos_deploy",
    "chaos_env",
    "chaos_experiment",
    "chaos_load",
    "chaos_namespace",
    "chaos_seed",
    "pytest_addoption",
    "pytest_cmdline_main",
    "pytest_collect_file",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_testnodedown",
]
