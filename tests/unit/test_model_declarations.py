"""The helpers the model's declarations are written with (``chaos.model.values.at_most``,
``chaos.model.slas.sla`` and ``setting``), called directly: the declarations run them once at
import, so these pin what each helper builds for inputs like theirs."""

from __future__ import annotations

import dataclasses

from chaos.model import slas
from chaos.model import values as v


def test_at_most_adds_the_bound_to_a_plain_schema_and_keeps_the_rest_of_the_value() -> None:
    bounded = v.at_most(v.POSITIVE_INT, v.MAX_USERS, "1 to 100000")

    assert bounded == v.Value("positive-int", {"type": "integer", "minimum": 1,
                                               "maximum": 100_000},
                              high=100_000, bounds="1 to 100000")
    # the shared declaration it started from is left as it was
    assert v.POSITIVE_INT.schema == {"type": "integer", "minimum": 1}


def test_at_most_bounds_only_the_numeric_forms_of_an_any_of_schema() -> None:
    value = v.Value("rate", {"anyOf": [
        {"type": "integer", "minimum": 0}, {"type": "number", "minimum": 0},
        {"type": "string", "pattern": "^[0-9]+/s$"}]},
        choices=("low", "high"), high=1e6, unit="/s", bounds="0 to 1000000/s")

    bounded = v.at_most(value, 500.0, "0 to 500/s")

    assert bounded == v.Value("rate", {"anyOf": [
        {"type": "integer", "minimum": 0, "maximum": 500.0},
        {"type": "number", "minimum": 0, "maximum": 500.0},
        {"type": "string", "pattern": "^[0-9]+/s$"}]},
        choices=("low", "high"), high=500.0, unit="/s", bounds="0 to 500/s")


def test_at_most_on_a_duration_keeps_its_unit_for_messages() -> None:
    bounded = v.at_most(v.DURATION, v.MAX_LATENCY_S, "0 to 60s")

    assert bounded == v.Value("duration", {"$ref": "#/$defs/duration", "maximum": 60.0},
                              high=60.0, unit="s", bounds="0 to 60s")


def test_sla_declares_a_field_undeclared_by_default_with_every_facet_in_its_metadata() -> None:
    f = slas.sla("maxErrorRate", v.RATIO, "the share of requests that failed", check="<=",
                 reads="load.error_rate", unit="ratio")

    assert isinstance(f, dataclasses.Field)
    assert f.default is None
    assert dict(f.metadata) == {
        "yaml": "maxErrorRate", "value": v.RATIO, "doc": "the share of requests that failed",
        "check": "<=", "reads": "load.error_rate", "unit": "ratio", "scale": 1.0,
        "bound": None}


def test_sla_carries_its_scale_default_and_bound() -> None:
    f = slas.sla("maxOutage", v.DURATION, "the longest stretch unserved", check="<=",
                 reads="load.longest_outage_s", unit="ms", scale=1000.0, default=False,
                 bound="load.outage_bound_s")

    assert f.default is False
    assert dict(f.metadata) == {
        "yaml": "maxOutage", "value": v.DURATION, "doc": "the longest stretch unserved",
        "check": "<=", "reads": "load.longest_outage_s", "unit": "ms", "scale": 1000.0,
        "bound": "load.outage_bound_s"}


def test_setting_declares_a_field_that_is_read_but_never_judged() -> None:
    f = slas.setting("outageBound", v.POSITIVE_DURATION, "how soon a request counts", 1.0)

    assert isinstance(f, dataclasses.Field)
    assert f.default == 1.0
    assert dict(f.metadata) == {
        "yaml": "outageBound", "value": v.POSITIVE_DURATION, "doc": "how soon a request counts",
        "check": None, "reads": None, "unit": "", "scale": 1.0, "bound": None}

