"""Credentials in guard URLs never reach a report, log or error; secret load headers never
travel in clear text to another machine (issue 18)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_report import T0, data

from chaos.abort import AbortSignal
from chaos.clock import FakeClock
from chaos.engine.monitor import GuardMonitor, HttpAnswer, build_checks
from chaos.errors import SafetyRefused
from chaos.model.abort import AbortSpec, HaltMarker, HttpGuard, PrometheusGuard
from chaos.model.credentials import cleartext_headers, redact_text, redact_url, url_secrets
from chaos.plan import guards as pg
from chaos.report import junit_properties, summary_row, summary_table, write_report
from chaos.report.data import AbortRecord
from chaos.report.html import write_experiment_html

SECRETS = ("hunter2", "t0ps3cret", "k3y-v4lue", "s1gn4ture")
HTTP_URL = "http://bob:hunter2@127.0.0.1:9/healthz?x=1&token=t0ps3cret"
PROM_URL = "http://127.0.0.1:9090/?api_key=k3y-v4lue&X-Amz-Signature=s1gn4ture"


def test_redact_url_masks_user_info_and_secret_parameters_only() -> None:
    assert redact_url(HTTP_URL) == "http://***@127.0.0.1:9/healthz?x=1&token=***"
    assert redact_url(PROM_URL) == \
        "http://127.0.0.1:9090/?api_key=***&X-Amz-Signature=***"
    assert redact_url("https://h/p?access_token=a&Password=b&secret=c&sig=d&page=2#key=e") == \
        "https://h/p?access_token=***&Password=***&secret=***&sig=***&page=2#key=***"
    assert redact_url("https://h/p?acc%65ss_token=abc") == "https://h/p?acc%65ss_token=***"
    plain = "https://prometheus.example:9090/api?query=up&page=2"
    assert redact_url(plain) == plain and url_secrets(plain) == []
    assert set(url_secrets(HTTP_URL)) >= {"hunter2", "bob:hunter2", "t0ps3cret"}
    # a library error quoting part of the URL loses the secret too
    assert redact_text(f"nonnumeric port: 'hunter2@127.0.0.1:9' for {HTTP_URL}", [HTTP_URL]) \
        == f"nonnumeric port: '***@127.0.0.1:9' for {redact_url(HTTP_URL)}"


def _no_secret(text: str) -> None:
    assert not any(s in text for s in SECRETS), text


def test_guard_credentials_reach_the_request_but_no_report(tmp_path: Path) -> None:
    asked: list[str] = []

    def get(url: str, timeout_s: float) -> HttpAnswer:
        asked.append(url)
        # what urllib says about user info in a URL: it quotes the password
        return HttpAnswer(None, error=f"nonnumeric port: 'hunter2@127.0.0.1:9' ({url})")

    class Cluster:
        def halt_marker(self, timeout_s: float) -> HaltMarker | None:
            return None

        def conditions(self, *a: object) -> None:
            return None

    spec = AbortSpec(guards=(PrometheusGuard(name="prom", url=PROM_URL, query="up", max=1.0,
                                             on_error="ignore"),
                             HttpGuard(name="ready", url=HTTP_URL)))
    clock, signal, logged = FakeClock(), AbortSignal(), []
    monitor = GuardMonitor(build_checks(spec, "ns", None, Cluster(), get, clock), signal, clock,
                           logged.append)
    monitor.start()
    monitor.stop()
    # the requests used the real URLs, credentials included
    assert asked[0].startswith(PROM_URL.rstrip("/") + "/api/v1/query?") and asked[1] == HTTP_URL
    breach = signal.breach
    assert breach is not None and breach.guard == "ready"
    assert f"GET {redact_url(HTTP_URL)}" in breach.detail
    record = AbortRecord(breach, undo_complete_at=T0 + 7.0, guards=tuple(monitor.stats()))
    d = replace(data(), verdict="aborted", slas=(), abort=record,
                error=f"AbortedByGuard: {breach.describe()}")
    report = write_report(tmp_path, d)
    html = write_experiment_html(report)
    raw = json.loads(report.read_text())
    assert raw["abort"]["guards"][1]["last_status"] == "error"  # prometheus was read, too
    for text in (report.read_text(), html.read_text(), *logged, breach.describe(),
                 summary_table([summary_row(raw)]), json.dumps(junit_properties(raw))):
        _no_secret(text)
    assert "token=***" in report.read_text()


def test_guards_refused_by_host_are_named_without_their_credentials() -> None:
    from chaos.engine.runner import check_guard_hosts

    url = "https://bob:hunter2@prom.example/?token=t0ps3cret"
    assert pg.disallowed([("p", url)], ()) == [
        "guard p: https://***@prom.example/?token=*** (host prom.example)"]
    exp = SimpleNamespace(name="x", abort=AbortSpec(guards=(HttpGuard(name="p", url=url),)))
    with pytest.raises(SafetyRefused) as info:
        check_guard_hosts(SimpleNamespace(allow_hosts=()), exp)  # type: ignore[arg-type]
    _no_secret(str(info.value))
    assert "--chaos-allow-host=prom.example" in str(info.value)


# -- secret headers over plain http ---------------------------------------------------------


@pytest.mark.parametrize(("url", "names", "all_secret", "clear"), [
    ("http://staging.example:8080", ["Authorization", "Cookie", "X-Api-Key",
                                     "X-Auth-Token", "Accept"], False,
     ["Authorization", "Cookie", "X-Api-Key", "X-Auth-Token"]),
    ("http://staging.example", ["Host"], True, ["Host"]),  # headersFromEnv: all secret
    ("http://10.0.0.5", ["Authorization"], False, ["Authorization"]),
    ("HTTP://Staging.Example", ["Authorization"], False, ["Authorization"]),
    ("https://staging.example", ["Authorization"], True, []),
    ("http://127.0.0.1:30080", ["Authorization"], True, []),
    ("http://localhost:30080", ["Authorization"], True, []),
    ("http://[::1]:30080", ["Authorization"], True, []),
    ("http://127.0.0.1.evil.example", ["Authorization"], True, ["Authorization"]),
])
def test_cleartext_headers(url: str, names: list[str], all_secret: bool,
                           clear: list[str]) -> None:
    assert cleartext_headers(url, names, all_secret=all_secret) == clear


def _with_load(good: str, extra: str) -> str:
    return good.replace("    users: 10\n", "    users: 10\n" + extra, 1)


def test_secret_headers_to_plain_http_elsewhere_are_a_collection_error(
        good: str, exp_dir: Path) -> None:
    from chaos.errors import ExperimentInvalid
    from chaos.model.parse import parse_experiment

    bad = _with_load(good, "    url: http://staging.example:8080\n"
                           "    headersFromEnv: {X-Request-Source: SRC, Authorization: TOKEN}\n")
    with pytest.raises(ExperimentInvalid) as info:
        parse_experiment(bad, exp_dir / "x.yaml")
    assert str(info.value).replace(str(exp_dir / "x.yaml"), "x.yaml").startswith(
        "x.yaml:17: spec.load.headersFromEnv: X-Request-Source, Authorization would travel in "
        "clear text: http://staging.example:8080 is plain http to another machine")
    for ok in ("https://staging.example:8443", "http://127.0.0.1:8080", "http://[::1]:8080"):
        exp = parse_experiment(bad.replace("http://staging.example:8080", ok),
                               exp_dir / "x.yaml")
        assert exp.load.headers_from_env == (("X-Request-Source", "SRC"),
                                             ("Authorization", "TOKEN"))
    plain = _with_load(good, "    url: http://staging.example:8080\n")  # no headers: fine
    assert parse_experiment(plain, exp_dir / "x.yaml").load.url == "http://staging.example:8080"


def test_secret_headers_to_plain_http_elsewhere_are_refused_at_run_start(
        tmp_path: Path) -> None:
    """Also for an experiment changed in Python (no file to check): nothing is started."""
    from chaos.load.runner import LoadRun
    from chaos.load.target import TargetRefused
    from chaos.model import LoadProfile

    profile = LoadProfile(users=1, max_duration_s=1, url="http://staging.example",
                          headers_from_env=(("Authorization", "TOKEN"),))
    with pytest.raises(TargetRefused, match=r"refusing to send header\(s\) Authorization in "
                                            r"clear text over plain http"):
        LoadRun.from_profile("http://staging.example", profile, tmp_path / "a",
                             allowed_hosts=["staging.example"], environ={"TOKEN": "Bearer x"})
    assert not (tmp_path / "a").exists()
    # https passes this check (and stops later, at the missing locustfile: nothing runs)
    with pytest.raises(ValueError, match=r"is not an existing \.py file"):
        LoadRun.start("https://staging.example", users=1, spawn_rate=1, max_duration_s=1,
                      out_dir=tmp_path / "b", allowed_hosts=["staging.example"],
                      headers={"Authorization": "Bearer x"}, locustfile=tmp_path / "none.py")


@pytest.mark.parametrize(("url", "secrets"), [
    # user and password, split at the first colon only, raw and decoded, longest first, and a
    # 3-character user still counted
    ("http://bob:pa:s%2Bs@host.example/",
     ["bob:pa:s%2Bs", "bob:pa:s+s", "pa:s%2Bs", "pa:s+s", "bob"]),
    # the host follows the last "@": an "@" before it belongs to the password
    ("http://al:p@ssw0rd@host.example/", ["al:p@ssw0rd", "p@ssw0rd"]),
    # a secret parameter's value up to the end of its piece (an "=" in it included), in the
    # query and the fragment; a parameter that is no secret, or has no value, is left alone
    ("http://host.example/p?page=1234567&token=abc=defgh&flag#sig=s1%2Bx",
     ["abc=defgh", "s1%2Bx", "s1+x"]),
])
def test_url_secrets_in_full(url: str, secrets: list[str]) -> None:
    assert url_secrets(url) == secrets
