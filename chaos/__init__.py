"""kube-chaos: chaos experiments for Kubernetes as pytest tests.

The public Python API. A chaos experiment is a plain pytest test::

    from chaos import assert_slas, load_experiment

    def test_checkout_survives_pod_kill(chaos_experiment):
        result = chaos_experiment(load_experiment("experiments/pod-kill-replicated.yaml"))
        assert_slas(result)

``chaos_experiment`` and the other fixtures come from the pytest plugin (``chaos.plugin``);
outside pytest, ``run_experiment(experiment, env)`` runs one against a ``RunEnv``.

Each name is imported from the module that defines it on first use, so ``import chaos`` (which
every ``chaos.*`` import does) stays cheap and pulls in neither the cluster client nor locust.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from chaos.version import __version__

# name -> the module it comes from (the model types from chaos.model, which gathers them)
_EXPORTS: dict[str, str] = {
    # run an experiment and judge it
    "load_experiment": "chaos.model.parse",
    "parse_experiment": "chaos.model.parse",
    "run_experiment": "chaos.engine.runner",
    "assert_slas": "chaos.engine.assertions",
    # what a run needs and gives back
    "RunEnv": "chaos.engine.runner",
    "ExperimentResult": "chaos.engine.runner",
    "FaultOutcome": "chaos.faults.base",
    "AbortRecord": "chaos.report.data",
    "SLAResult": "chaos.model",
    "RequestRecord": "chaos.model",
    "ClusterEvent": "chaos.model",
    "Breach": "chaos.model",
    # the experiment model
    "Experiment": "chaos.model",
    "WorkloadSpec": "chaos.model",
    "LoadProfile": "chaos.model",
    "SteadyState": "chaos.model",
    "SLASpec": "chaos.model",
    "FaultSpec": "chaos.model",
    "BlastRadius": "chaos.model",
    "Selector": "chaos.model",
    "AbortSpec": "chaos.model",
    # errors: every one a ChaosError
    "ChaosError": "chaos.errors",
    "ExperimentInvalid": "chaos.errors",
    "ExperimentError": "chaos.errors",
    "ExperimentAborted": "chaos.errors",
    "SLAViolated": "chaos.errors",
    "SafetyRefused": "chaos.errors",
    "HaltActive": "chaos.errors",
    "InjectionFailed": "chaos.errors",
    "RollbackFailed": "chaos.errors",
    "SteadyStateFailed": "chaos.errors",
    "ClusterError": "chaos.errors",
}

__all__ = [  # the same names as _EXPORTS (tests/unit/test_public_api.py checks it)
    "AbortRecord",
    "AbortSpec",
    "BlastRadius",
    "Breach",
    "ChaosError",
    "ClusterError",
    "ClusterEvent",
    "Experiment",
    "ExperimentAborted",
    "ExperimentError",
    "ExperimentInvalid",
    "ExperimentResult",
    "FaultOutcome",
    "FaultSpec",
    "HaltActive",
    "InjectionFailed",
    "LoadProfile",
    "RequestRecord",
    "RollbackFailed",
    "RunEnv",
    "SLAResult",
    "SLASpec",
    "SLAViolated",
    "SafetyRefused",
    "Selector",
    "SteadyState",
    "SteadyStateFailed",
    "WorkloadSpec",
    "__version__",
    "assert_slas",
    "load_experiment",
    "parse_experiment",
    "run_experiment",
]

if TYPE_CHECKING:
    from chaos.engine.assertions import assert_slas as assert_slas
    from chaos.engine.runner import ExperimentResult as ExperimentResult
    from chaos.engine.runner import RunEnv as RunEnv
    from chaos.engine.runner import run_experiment as run_experiment
    from chaos.errors import ChaosError as ChaosError
    from chaos.errors import ClusterError as ClusterError
    from chaos.errors import ExperimentAborted as ExperimentAborted
    from chaos.errors import ExperimentError as ExperimentError
    from chaos.errors import ExperimentInvalid as ExperimentInvalid
    from chaos.errors import HaltActive as HaltActive
    from chaos.errors import InjectionFailed as InjectionFailed
    from chaos.errors import RollbackFailed as RollbackFailed
    from chaos.errors import SafetyRefused as SafetyRefused
    from chaos.errors import SLAViolated as SLAViolated
    from chaos.errors import SteadyStateFailed as SteadyStateFailed
    from chaos.faults.base import FaultOutcome as FaultOutcome
    from chaos.model import AbortSpec as AbortSpec
    from chaos.model import BlastRadius as BlastRadius
    from chaos.model import Breach as Breach
    from chaos.model import ClusterEvent as ClusterEvent
    from chaos.model import Experiment as Experiment
    from chaos.model import FaultSpec as FaultSpec
    from chaos.model import LoadProfile as LoadProfile
    from chaos.model import RequestRecord as RequestRecord
    from chaos.model import Selector as Selector
    from chaos.model import SLAResult as SLAResult
    from chaos.model import SLASpec as SLASpec
    from chaos.model import SteadyState as SteadyState
    from chaos.model import WorkloadSpec as WorkloadSpec
    from chaos.model.parse import load_experiment as load_experiment
    from chaos.model.parse import parse_experiment as parse_experiment
    from chaos.report.data import AbortRecord as AbortRecord


def __getattr__(name: str) -> object:
    """A public name, from its defining module, looked up at each access (a test that patches
    ``chaos.engine.runner.run_experiment`` patches ``chaos.run_experiment`` too)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chaos' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
