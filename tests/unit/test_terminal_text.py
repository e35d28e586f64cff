"""Report and journal text reaches the terminal escaped (issue 18): an ESC sequence, a C1
control or a bidi override in an experiment name, error, target or reason is shown, not obeyed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report import data
from test_report_compare import manifest

from chaos.cli import main
from chaos.cli import rollback as cli_rollback
from chaos.faults import undo
from chaos.journal.store import Journal, UndoAction
from chaos.report import build_report
from chaos.report.text import excerpt, printable

# clear screen, set the window title, a C1 CSI, a right-to-left override, a newline
HOSTILE = "pod\x1b[2J\x1b]0;owned\x07\x9b31m\u202ekill\nfake line"
SHOWN = "pod\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202ekill\\nfake line"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def test_printable_escapes_controls_bidi_and_newlines_only() -> None:
    assert printable(HOSTILE) == SHOWN
    assert printable("a\nb\tc\r", newlines=True) == "a\nb\\tc\\r"
    assert printable("\u2066x\u2069\u200b\u2028\x7f\x00") == \
        "\\u2066x\\u2069\\u200b\\u2028\\x7f\\x00"
    assert printable("\ud800") == "\\ud800"  # a lone surrogate JSON can hold
    assert printable("café 中文 ✓ a b") == "café 中文 ✓ a b"
    assert printable(3.5) == "3.5"
    assert excerpt("\x1b" * 30, 10) == "\\x1b\\x1b\\x..."


def _assert_escaped(out: str) -> None:
    assert not any(c in out for c in RAW), out
    assert "fake line" not in out.replace(SHOWN, "")  # the newline did not start a row


def _write(path: Path, name: str = HOSTILE, image_id: str = "sha256:aaa") -> None:
    r = build_report(data(verdict="pass"))
    r["experiment"]["name"] = name
    r["experiment"]["error"] = "boom\x1b[1A\x1b[2K"
    r["fault"]["faults"][0]["type"] = "pod-kill\x1b[8m"
    r["verdict"] = "pass\x1b[32m"  # type: ignore[typeddict-item]
    m = manifest(image_id=image_id)
    r["manifest"] = m  # type: ignore[typeddict-item]
    path.mkdir(parents=True)
    (path / "report.json").write_text(json.dumps(r))


def test_report_show_escapes_report_text(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "run" / "a")
    _write(tmp_path / "run" / "b")  # same name twice: the repeat table too
    assert main(["report", "show", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    _assert_escaped(out)
    assert out.count(SHOWN) == 3 and "pod-kill\\x1b[8m" in out and "pass\\x1b[32m" in out


def test_report_compare_escapes_report_text(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "base")
    _write(tmp_path / "cur", image_id="sha256:\x1b[2Jbbb")
    main(["report", "compare", str(tmp_path / "base"), str(tmp_path / "cur")])
    out = capsys.readouterr().out
    _assert_escaped(out)
    assert SHOWN in out and "httpd=sha256:\\x1b[2Jbbb" in out
    _write(tmp_path / "other", name="x\u202ey")  # only on one side
    main(["report", "compare", str(tmp_path / "base"), str(tmp_path / "other")])
    out = capsys.readouterr().out
    _assert_escaped(out)
    assert "x\\u202ey" in out


def test_rollback_dry_run_escapes_journal_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               dead_writer: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[str] = []
    monkeypatch.setattr(undo, "HANDLERS", {"uncordon": lambda a: calls.append("ran")})
    j = Journal(tmp_path / "run.jsonl")
    j.record(UndoAction(kind="uncordon", params={"node": "n1\x1b[2J\u202e"},
                        target={"context": "kind\x1b]0;t\x07", "namespace": "ns\nx"},
                        created=1.0))
    assert cli_rollback.main(["--journal", str(j.path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in RAW), out
    assert "uncordon(node=n1\\x1b[2J\\u202e) [context kind\\x1b]0;t\\x07, ns ns\\nx]" in out
    assert calls == []
