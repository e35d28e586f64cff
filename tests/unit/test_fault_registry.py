"""Each fault type is declared once (chaos.model.faults) and implemented once (chaos.faults)."""

from __future__ import annotations

import pytest

from chaos.errors import InjectionFailed
from chaos.faults import build, implementations, implements
from chaos.model.faults import FAULT_TYPES, FaultSpec, PodKill
from chaos.model.selector import Selector


def test_every_declared_type_has_exactly_one_implementation() -> None:
    assert set(implementations()) == set(FAULT_TYPES.values())


def test_build_gives_the_registered_implementation_with_its_spec() -> None:
    spec = PodKill(selector=Selector.of({"app": "web"}))
    fault = build(spec)
    assert type(fault).__name__ == "PodKillFault"
    assert fault.spec is spec  # type: ignore[attr-defined]
    assert fault.undo.__doc__  # every fault has an undo, even when it has nothing to put back


def test_unknown_spec_type_is_a_clear_error() -> None:
    class Meteor(FaultSpec):
        type = "meteor"

    with pytest.raises(InjectionFailed, match="no implementation for fault type 'meteor'"):
        build(Meteor())


def test_registering_a_type_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="pod-kill is implemented twice"):
        implements(PodKill)(object)
