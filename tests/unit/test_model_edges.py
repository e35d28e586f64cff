"""Edges of the model's small pieces, each pinned by its whole result: bounds at exactly the
limit, the text of every message, and the stricter-of-two rules (the mutation survivors of
chaos/model/*.py that no other test told apart)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import pytest

from chaos.errors import excerpt
from chaos.model import values as v
from chaos.model.abort import Breach, PrometheusGuard
from chaos.model.credentials import redact_text, redact_url
from chaos.model.experiment import BlastRadius, LoadProfile, ObjectRef
from chaos.model.faults import (
    Access,
    ActsOn,
    FaultSpec,
    LoadSpike,
    PodKill,
    _namespaced,
    registry,
)
from chaos.model.fields import FieldInfo, field_infos, option
from chaos.model.loadmodes import LOAD_MODES
from chaos.model.netvalues import Peer, parse_rate
from chaos.model.selector import Selector
from chaos.model.tags import marker_name, tag_problem

# --- abort -----------------------------------------------------------------------------------


def test_a_breach_that_read_nothing_and_has_no_threshold_says_so() -> None:
    breach = Breach(guard="api", type="http", value=None, threshold=None, detail="refused", at=0.0)
    assert breach.describe() == "guard api (http) breached: -: refused"


def test_a_breach_shows_its_reading_and_threshold_trimmed() -> None:
    breach = Breach(guard="p", type="prometheus", value=2.5, threshold=2.0, detail="q", at=0.0)
    assert breach.describe() == "guard p (prometheus) breached: 2.5 (threshold 2): q"


def test_a_prometheus_guard_may_pin_one_value_with_equal_min_and_max() -> None:
    guard = PrometheusGuard(name="p", url="http://127.0.0.1:9090", query="up", min=1.0, max=1.0)
    assert guard.check() == []
    assert dataclasses.replace(guard, min=1.5).check() == [("max", "1 is below min (1.5)")]


# --- credentials -----------------------------------------------------------------------------


def test_a_secret_parameter_is_masked_whole_even_when_its_value_holds_equals() -> None:
    assert redact_url("http://h/q?token=a=b&x=1") == "http://h/q?token=***&x=1"


def test_a_percent_encoded_secret_parameter_name_is_masked() -> None:
    assert redact_url("http://h/q?%74oken=abc&x=1") == "http://h/q?%74oken=***&x=1"


def test_user_info_with_an_at_sign_is_masked_up_to_the_host() -> None:
    assert redact_url("http://us@er:pw@host:9090/q") == "http://***@host:9090/q"


def test_the_longest_url_is_redacted_first_when_one_holds_another() -> None:
    inner = "https://ab@h/"  # sorts after outer, and is shorter
    outer = "http://h/?u=https://ab@h/&token=zz"  # secrets this short are not scrubbed alone
    assert redact_text(f"GET {outer} failed", [inner, outer]) == (
        "GET http://h/?u=https://***@h/&token=*** failed")
    assert redact_text(f"GET {outer} failed", [outer, inner]) == (
        "GET http://h/?u=https://***@h/&token=*** failed")


# --- experiment ------------------------------------------------------------------------------


def test_merged_blast_radius_takes_the_stricter_of_each_limit() -> None:
    a = BlastRadius(max_pods=5, max_percent=40.0, max_nodes=3)
    b = BlastRadius(max_pods=3, max_percent=50.0, max_nodes=2)
    assert a.merged(b) == BlastRadius(max_pods=3, max_percent=40.0, max_nodes=2)
    assert b.merged(a) == BlastRadius(max_pods=3, max_percent=40.0, max_nodes=2)
    c = BlastRadius(max_pods=None, max_percent=None, max_nodes=4)
    assert c.merged(b) == BlastRadius(max_pods=3, max_percent=50.0, max_nodes=2)
    assert b.merged(c) == BlastRadius(max_pods=3, max_percent=50.0, max_nodes=2)


def test_an_object_ref_is_shown_whole_up_to_twice_the_excerpt_length() -> None:
    assert str(ObjectRef("v1", "Pod", "a" * 156)) == "Pod/" + "a" * 156  # 160 characters
    long = "Pod/" + "a" * 157
    assert str(ObjectRef("v1", "Pod", "a" * 157)) == f"{long[:80]!r}... (161 characters)"
    assert str(ObjectRef("v1", "Pod", "a" * 200)) == excerpt("Pod/" + "a" * 200)
    assert str(ObjectRef("v1", "Pod", "a\tb")) == "'Pod/a\\tb'"


# --- faults ----------------------------------------------------------------------------------


def test_only_a_load_shaping_fault_has_a_ramp() -> None:
    assert PodKill(selector=Selector.of({"app": "a"}), count=1).ramp_s() == 0.0
    assert LoadSpike(rate=60.0, ramp_up_s=7.0, duration_s=50.0).ramp_s() == 7.0


def test_a_pod_kill_salt_names_its_round_starting_at_zero() -> None:
    assert PodKill(selector=Selector.of({"app": "a"}), count=1).salt(2) == "fault-2:pod-kill:0"
    assert PodKill(selector=Selector.of({"app": "a"}), count=1).salt(2, 3) == "fault-2:pod-kill:3"


def test_a_namespaced_permission_is_in_the_core_group_by_default() -> None:
    assert _namespaced("get", "list", resource="pods") == Access(("get", "list"), "", "pods")


def test_a_spike_may_ramp_for_its_whole_duration() -> None:
    spike = LoadSpike(rate=60.0, ramp_up_s=50.0, duration_s=50.0)
    assert spike.check() == []
    assert spike.load_schedule(4.0, 12.0) == ((4.0, 4.0, 12.0), (4.0, 60.0, 50.0),
                                              (4.0, 4.0, None))
    assert dataclasses.replace(spike, ramp_up_s=51.0).check() == [
        ("rampUp", "51s is longer than the spike's duration (50s), which includes the ramp")]


def test_a_spike_ramps_even_for_less_than_a_second() -> None:
    spike = LoadSpike(rate=60.0, ramp_up_s=0.5, duration_s=10.0)
    assert spike.load_schedule(4.0, 2.0) == ((4.0, 4.0, 2.0), (4.0, 60.0, 0.5),
                                             (60.0, 60.0, 9.5), (4.0, 4.0, None))


class _Declared(FaultSpec):
    acts_on: ClassVar[ActsOn] = "nothing"
    exclusive: ClassVar[bool] = False
    exclusive_why: ClassVar[str] = "it touches nothing"
    rbac: ClassVar[tuple[Access, ...]] = ()


def test_registry_names_a_missing_summary_or_type_and_each_facet_once() -> None:
    class Unnamed(_Declared):
        summary: ClassVar[str] = "does nothing"
        rbac: ClassVar[tuple[Access, ...]] = ()

    class Unsummed(_Declared):
        type: ClassVar[str] = "unsummed"
        rbac: ClassVar[tuple[Access, ...]] = ()

    class Bare(FaultSpec):
        acts_on: ClassVar[ActsOn] = "nothing"
        exclusive: ClassVar[bool] = False
        exclusive_why: ClassVar[str] = "it touches nothing"
        type: ClassVar[str] = "bare"
        summary: ClassVar[str] = "no permissions at all"

    with pytest.raises(TypeError) as info:
        registry(Unnamed)
    assert str(info.value) == "fault type Unnamed does not declare: type"
    with pytest.raises(TypeError) as info:
        registry(Unsummed)
    assert str(info.value) == "fault type Unsummed does not declare: summary"
    with pytest.raises(TypeError) as info:
        registry(Bare)
    assert str(info.value) == "fault type Bare does not declare: rbac"


# --- fields ----------------------------------------------------------------------------------


def test_an_option_carries_required_and_where_it_sits() -> None:
    @dataclass(frozen=True)
    class Section:
        name: str = option("name", v.STRING, "the name", "", required=True, at="metadata")
        note: str = option("note", v.STRING, "a note", "")

    assert list(field_infos(Section)) == [
        FieldInfo(attr="name", yaml="name", value=v.STRING, doc="the name", reader="value",
                  default="", needed=True, at="metadata"),
        FieldInfo(attr="note", yaml="note", value=v.STRING, doc="a note", reader="value",
                  default="", needed=None, at=None),
    ]


# --- loadmodes, netvalues, selector, tags ----------------------------------------------------


def test_open_loop_describes_the_rate_it_ends_at() -> None:
    load = LoadProfile(mode="open", rate_segments=((0.0, 10.0, 5.0), (10.0, 10.0, 30.0),
                                                   (20.0, 20.0, None)))
    assert LOAD_MODES["open"].describe(load) == "open loop, 20 arrivals/s"


def test_a_peer_describes_its_service_or_its_addresses() -> None:
    assert Peer(service="db").describe() == "Service db"
    assert Peer(cidrs=("10.0.0.0/8", "1.2.3.4/32")).describe() == "10.0.0.0/8, 1.2.3.4/32"
    assert Peer(selector=Selector.of({"app": "db"})).describe() == "pods app=db"


def test_a_rate_of_exactly_the_maximum_is_accepted_and_one_above_is_named() -> None:
    assert parse_rate("100gbit") == 100_000_000_000
    with pytest.raises(ValueError) as info:
        parse_rate("101gbit")
    assert str(info.value) == "rate '101gbit' is outside 8kbit..100gbit"


def test_different_selectors_hash_apart() -> None:
    assert hash(Selector.of({"app": "a"})) != hash(Selector.of({"app": "b"}))


def test_a_dotted_tag_becomes_an_underscored_marker() -> None:
    assert marker_name("net.slow-2") == "net_slow_2"


def test_a_tag_that_cannot_be_a_marker_is_told_what_can() -> None:
    assert tag_problem("9lives") == (
        "'9lives' cannot be a pytest marker: use ASCII letters, digits, '_', '-' or '.', "
        "starting with a letter")
