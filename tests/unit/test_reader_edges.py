"""The generic reader's converters at their edges, called directly: lengths at exactly the
limit, what a message quotes, and the line an error points at."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from chaos.errors import ExperimentInvalid, excerpt
from chaos.model import reader as p
from chaos.model.faults import ControllerRef
from chaos.model.manifests import read_manifest
from chaos.model.netvalues import Peer
from chaos.model.selector import Selector

CTX = p.Ctx(Path("x.yaml"))


def node(text: str) -> yaml.Node:
    """The value of ``f`` in a document where it starts on line 2."""
    root = yaml.compose(f"other: 1\nf: {text}\n", Loader=yaml.SafeLoader)
    assert isinstance(root, yaml.MappingNode)
    value: yaml.Node = root.value[1][1]
    return value


def failure(conv: Callable[[p.Ctx, yaml.Node, str], object], text: str,
            ctx: p.Ctx = CTX) -> tuple[int | None, str | None, str]:
    with pytest.raises(ExperimentInvalid) as info:
        conv(ctx, node(text), "spec.f")
    return info.value.line, info.value.field, info.value.reason


def test_an_argument_that_is_a_list_is_named_as_one() -> None:
    assert failure(p.args, "[[1]]") == (2, "spec.f[0]", "expected a string, got a list")


def test_a_bound_without_a_unit_is_shown_bare() -> None:
    assert failure(p.bounded(p.positive_int, 5), "6") == (2, "spec.f", "at most 5, got 6")


SUBDOMAIN_253 = ".".join(["a" * 63] * 3 + ["b" * 61])
SUBDOMAIN_254 = ".".join(["a" * 63] * 3 + ["b" * 62])


def test_a_controller_name_may_be_a_dotted_subdomain_of_253_characters() -> None:
    assert p.controller_ref(CTX, node("Deployment/web.v2"), "f") == ControllerRef(
        "Deployment", "web.v2")
    assert p.controller_ref(CTX, node(f"StatefulSet/{SUBDOMAIN_253}"), "f") == ControllerRef(
        "StatefulSet", SUBDOMAIN_253)
    assert failure(p.controller_ref, f"StatefulSet/{SUBDOMAIN_254}") == (
        2, "spec.f", "expected a Kubernetes object name (lowercase DNS subdomain) after "
        f"StatefulSet/, got {excerpt(SUBDOMAIN_254)}")


def test_a_controller_name_with_a_slash_is_refused_as_a_name() -> None:
    assert failure(p.controller_ref, "Deployment/a/b") == (
        2, "spec.f", "expected a Kubernetes object name (lowercase DNS subdomain) after "
        "Deployment/, got 'a/b'")


def test_a_dns_subdomain_is_at_most_253_characters_of_dotted_labels() -> None:
    assert p.dns_subdomain(CTX, node("web.v2"), "f") == "web.v2"
    assert p.dns_subdomain(CTX, node(SUBDOMAIN_253), "f") == SUBDOMAIN_253
    assert failure(p.dns_subdomain, SUBDOMAIN_254) == (
        2, "spec.f", "expected a Kubernetes object name (lowercase DNS subdomain), got "
        f"{excerpt(SUBDOMAIN_254)}")


def test_a_repeated_environment_variable_is_named_at_its_second_key() -> None:
    assert failure(p.env_map, "{A: x,\n  A: y}") == (3, "spec.f.A", "duplicate variable")


def test_a_path_is_quoted_whole_up_to_400_characters(tmp_path: Path) -> None:
    ctx = p.Ctx(tmp_path / "x.yaml")
    at_limit, over = "/" + "a" * 399, "/" + "a" * 400
    folder = ctx.allowed[0]
    assert failure(p.existing_file, at_limit, ctx) == (
        2, "spec.f", f"path {at_limit!r} resolves outside the experiment's folder {folder} "
        "(allow it with --chaos-allow-path)")
    assert failure(p.existing_file, over, ctx) == (
        2, "spec.f", f"path {excerpt(over)} resolves outside the experiment's folder {folder} "
        "(allow it with --chaos-allow-path)")


@pytest.mark.parametrize(("number", "unit", "shown"), [
    (2.5, "s", "2.5s"),
    (86400, "s", "1d (86400s)"),
    (86401, "s", "86401s"),
    (172800, "", "172800"),
    (0, "", "0"),
    (1000000, "/s", "1000000/s"),
])
def test_a_bound_is_written_as_the_docs_write_it(number: float, unit: str, shown: str) -> None:
    assert p.figure(number, unit) == shown


@pytest.mark.parametrize(("text", "shown"), [
    ("1" + "0" * 39, "1" + "0" * 39),  # 40 characters: whole
    ("1" + "0" * 40, "1" + "0" * 36 + "..."),  # 41: cut
    ('!!float "\\t5"', "'\\t5'"),  # a number written with a control character
], ids=["40", "41", "unprintable"])
def test_a_number_is_quoted_as_written_and_cut_past_40_characters(text: str,
                                                                  shown: str) -> None:
    assert p.got(node(text)) == shown


def test_two_peers_point_at_the_second_key() -> None:
    assert failure(p.peer, "{selector: {app: a},\n  cidr: 10.0.0.0/8}") == (
        3, "spec.f", "give exactly one of selector, service, cidr (found selector, cidr)")
    assert failure(p.peer, "{}") == (
        2, "spec.f", "give exactly one of selector, service, cidr (found none)")


def test_a_peer_service_must_be_one_of_the_manifests_services(tmp_path: Path) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: httpd}\n"
        "spec: {selector: {app: httpd}, ports: [{port: 80}]}\n")
    ctx = p.Ctx(tmp_path / "x.yaml")
    ctx.objects = tuple(read_manifest(manifest))
    assert p.peer(ctx, node("{service: httpd}"), "f") == Peer(service="httpd")
    assert failure(p.peer, "{service: web}", ctx) == (
        2, "spec.f.service", "no Service 'web' in the workload manifests; they define: httpd")


def test_an_empty_list_of_peer_addresses_is_named_at_cidr() -> None:
    line, field, _ = failure(p.peer, "{cidr: []}")
    assert (line, field) == (2, "spec.f.cidr")


def test_status_codes_span_100_to_599() -> None:
    assert p.status_codes(CTX, node("[100, 599]"), "f") == (100, 599)
    assert failure(p.status_codes, "600") == (
        2, "spec.f", "expected an HTTP status code (100-599), got 600")
    assert failure(p.status_codes, "99") == (
        2, "spec.f", "expected an HTTP status code (100-599), got 99")


def test_a_threshold_spans_both_signs_to_the_limit() -> None:
    assert p.threshold(CTX, node("-1000000000000000000"), "f") == -1e18
    assert p.threshold(CTX, node("1000000000000000000"), "f") == 1e18
    assert failure(p.threshold, "[1]") == (2, "spec.f", "expected a number, got a list")
    assert failure(p.threshold, "-1000000000000000001") == (
        2, "spec.f", "expected a number from -1e+18 to 1e+18, got -1000000000000000001")


@pytest.mark.parametrize(("text", "expected"), [
    ("{bad key: x}", (2, "spec.f", "expected a label name, got 'bad key'")),
    ("{app: 1}", (2, "spec.f.app", "expected a label value string (quote numbers), got 1")),
    ("{app: " + "v" * 64 + "}", (2, "spec.f.app", f"not a valid label value: {'v' * 64!r}")),
    ("{a: x,\n  a: y}", (3, "spec.f.a", "duplicate label")),
    ("{}", (2, "spec.f", "expected at least one label")),
    ("[a]", (2, "spec.f", "expected a mapping of label: value, got a list")),
], ids=["key", "number", "64-characters", "duplicate", "empty", "list"])
def test_a_selector_refusal_is_whole(text: str, expected: tuple[int, str, str]) -> None:
    assert failure(p.selector, text) == expected


def test_a_label_value_may_have_63_characters() -> None:
    assert p.selector(CTX, node("{app: " + "v" * 63 + "}"), "f") == Selector.of(
        {"app": "v" * 63})


def _map(ctx: p.Ctx, n: yaml.Node, where: str) -> p.Map:
    return p.Map(ctx, n, where, ("abc", "xyz"))


@pytest.mark.parametrize(("text", "expected"), [
    ("[1]", (2, "spec.f", "expected a mapping, got a list")),
    ("{1: x}", (2, "spec.f", "field names must be strings, got 1")),
    ("{abc: 1,\n  abc: 2}", (3, "spec.f.abc", "duplicate field")),
    ("{ab: 1}", (2, "spec.f.ab", "unknown field (did you mean 'abc'?); allowed: abc, xyz")),
    ("{q: 1}", (2, "spec.f.q", "unknown field; allowed: abc, xyz")),
], ids=["list", "number-key", "duplicate", "close", "unknown"])
def test_a_mapping_refusal_is_whole(text: str, expected: tuple[int, str, str]) -> None:
    assert failure(_map, text) == expected


def test_a_required_field_is_missing_or_null() -> None:
    with pytest.raises(ExperimentInvalid) as info:
        _map(CTX, node("{abc: null}"), "spec.f").require("abc")
    assert str(info.value) == "x.yaml:2: spec.f.abc: required field is null"
    with pytest.raises(ExperimentInvalid) as info:
        _map(CTX, node("{abc: 1}"), "").require("xyz")
    assert str(info.value) == "x.yaml:2: xyz: required field missing"


def test_a_top_level_mapping_that_is_not_one_is_the_document() -> None:
    assert failure(lambda ctx, n, w: p.Map(ctx, n, "", ()), "[1]") == (
        2, "document", "expected a mapping, got a list")


def test_an_image_reference_refusal_says_what_one_looks_like() -> None:
    assert failure(p.image, "Not/An:Image:x") == (
        2, "spec.f", "not an image reference: 'Not/An:Image:x' (expected e.g. myteam/api:1.4 or "
        "registry.local:5000/api@sha256:...)")


def test_a_path_outside_names_every_allowed_place(tmp_path: Path) -> None:
    for folder in ("exp", "o1", "o2"):
        (tmp_path / folder).mkdir()
    ctx = p.Ctx(tmp_path / "exp" / "x.yaml", [tmp_path / "o1", tmp_path / "o2"])
    real = tmp_path.resolve()
    assert failure(p.existing_file, '"/etc/hostname"', ctx) == (
        2, "spec.f", f"path '/etc/hostname' resolves outside the experiment's folder "
        f"{real / 'exp'} or the allowed paths {real / 'o1'}, {real / 'o2'} (allow it with "
        "--chaos-allow-path)")


def test_a_path_that_cannot_be_a_path_is_named_with_the_reason(tmp_path: Path) -> None:
    ctx = p.Ctx(tmp_path / "x.yaml")
    assert failure(p.existing_file, '"a\\0b"', ctx) == (
        2, "spec.f", "cannot use path 'a\\x00b': 'embedded null byte'")


@pytest.mark.parametrize("raw", ["missing.yaml", "sub", "m" * 420, "a\tb/missing"],
                         ids=["missing", "a-folder", "long", "unprintable"])
def test_a_file_not_found_is_named_by_its_full_path(tmp_path: Path, raw: str) -> None:
    (tmp_path / "sub").mkdir()
    ctx = p.Ctx(tmp_path / "x.yaml")
    full = str(ctx.base / raw)
    shown = full if len(full) <= 400 and full.isprintable() else excerpt(full)
    assert failure(p.existing_file, '"' + raw.replace("\t", "\\t") + '"', ctx) == (
        2, "spec.f", f"file not found: {shown} (paths are relative to the experiment file)")


def test_a_top_level_key_that_is_not_a_string_is_in_the_document() -> None:
    assert failure(lambda ctx, n, w: p.Map(ctx, n, "", ("a",)), "{1: x}") == (
        2, "document", "field names must be strings, got 1")
