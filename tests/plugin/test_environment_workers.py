"""How many processes of a session run experiments (chaos.plugin.environment._workers), read
from a real pytest config as xdist leaves it: a worker's config carries xdist's ``workerinput``
(its id and the session's worker count), the controller's and a plain session's none. The
sessions that really start xdist workers are in test_parallel.py."""

from __future__ import annotations

import pytest

from chaos.plugin import environment

pytest_plugins = ["pytester"]


@pytest.fixture
def config(pytester: pytest.Pytester) -> pytest.Config:
    return pytester.parseconfig("-p", "no:locust")


def test_a_session_without_xdist_workers_runs_experiments_in_one_process(
        config: pytest.Config) -> None:
    assert not hasattr(config, "workerinput")
    assert environment._workers(config) == 1


@pytest.mark.parametrize("count", [1, 2, 4])
def test_an_xdist_worker_counts_every_worker_of_its_session(config: pytest.Config,
                                                            count: int) -> None:
    config.workerinput = {  # type: ignore[attr-defined]
        "workerid": "gw1", "workercount": count, "testrunuid": "5f0c", "mainargv": ["pytest"]}

    assert environment._workers(config) == count


def test_a_worker_count_given_as_text_is_read_as_a_number(config: pytest.Config) -> None:
    config.workerinput = {"workerid": "gw0", "workercount": "3"}  # type: ignore[attr-defined]

    assert environment._workers(config) == 3


def test_a_worker_input_without_a_count_counts_one_process(config: pytest.Config) -> None:
    config.workerinput = {"workerid": "gw0"}  # type: ignore[attr-defined]

    assert environment._workers(config) == 1


def test_an_empty_worker_input_counts_one_process(config: pytest.Config) -> None:
    config.workerinput = {}  # type: ignore[attr-defined]

    assert environment._workers(config) == 1
