"""docs/options.md is what the plugin declares to pytest (tests/plugin/options_reference.py
generates it): every option, its help, what it takes, its default and its ini key."""

from __future__ import annotations

from pathlib import Path

import pytest
from options_reference import DOCS_PATH, declared, main, options_markdown

from chaos.plugin.options import option

pytest_plugins = ["pytester"]


def test_the_committed_reference_is_what_the_plugin_declares() -> None:
    assert DOCS_PATH.read_text() == options_markdown(), (
        "docs/options.md is stale: run python tests/plugin/options_reference.py")


def test_each_option_has_an_ini_key_of_the_same_help_and_default() -> None:
    parser = declared()
    options = parser.getgroup("chaos").options
    inis = parser._inidict
    assert sorted(inis) == sorted(arg.dest for arg in options)  # one ini key each, no other
    for arg in options:
        ini_help, _type, ini_default = inis[arg.dest]
        assert arg.names() == ["--chaos-" + arg.dest.removeprefix("chaos_").replace("_", "-")]
        assert arg.attrs()["help"] == f"{ini_help} (ini: {arg.dest})"
        assert ini_default == arg.default


def test_the_generator_rewrites_the_reference(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import options_reference

    target = tmp_path / "options.md"
    target.write_text("stale\n")
    monkeypatch.setattr(options_reference, "DOCS_PATH", target)
    assert main() == 0
    assert target.read_text() == options_markdown()
    assert capsys.readouterr().out == f"wrote {target}\n"


def test_an_option_reads_as_pytest_help_shows_it() -> None:
    text = options_markdown()
    assert text.startswith("# Options of the pytest plugin\n")
    assert ("## `--chaos-keep-namespace`\n\n"
            "keep a test's namespace: never, on-failure or always\n\n"
            "- takes: one of `never`, `on-failure`, `always`\n"
            "- default: `never`\n"
            "- ini key: `chaos_keep_namespace` (string; default `never`)\n") in text
    assert ("## `--chaos-keep-cluster`\n\n"
            "keep a kind cluster this run created (default: delete it at the end; a cluster "
            "that already existed is always kept)\n\n"
            "- takes: a flag\n- default: off\n"
            "- ini key: `chaos_keep_cluster` (bool; default off)\n") in text
    assert ("- takes: a value; repeatable\n- default: none\n"
            "- ini key: `chaos_allow_path` (paths; default none)\n") in text
    # markdown would take <dir> for a tag
    assert r"directory for reports (\<dir>/\<run-id>/\<experiment>/report.json)" in text


# Not read today: option() returns an option's own default before looking at its ini key, so
# the three options that have one never read theirs (a bug, reported; chaos/ is not changed
# by the test work). Left out below until it is fixed.
DEFAULT_HIDES_INI = {"chaos_cluster_name", "chaos_keep_namespace", "chaos_reports"}


def test_every_ini_key_stands_in_for_its_option(pytester: pytest.Pytester) -> None:
    """Each key of the reference, set in an ini file alone, is what the session reads for its
    option: strings as written, the flag as a bool, repeatable ones as lists (paths resolved
    against the ini file's folder)."""
    parser = declared()
    assert {arg.dest for arg in parser.getgroup("chaos").options
            if arg.default not in (None, [], False)} == DEFAULT_HIDES_INI
    values = {"string": ("v-{dest}", "v-{dest}"), "bool": ("true", True),
              "args": ("a b", ["a", "b"]), "paths": ("p q", ["p", "q"])}
    lines, expected = ["[pytest]"], {}
    for arg in parser.getgroup("chaos").options:
        ini_type = parser._inidict[arg.dest][1]
        text, value = values[ini_type]
        lines.append(f"{arg.dest} = {text.format(dest=arg.dest)}")
        expected[arg.dest] = (value.format(dest=arg.dest) if isinstance(value, str) else
                              [pytester.path / p for p in value] if ini_type == "paths" else
                              value)
    pytester.makeini("\n".join(lines) + "\n")
    config = pytester.parseconfig("-p", "no:locust")
    assert {dest: option(config, dest) for dest in expected
            if dest not in DEFAULT_HIDES_INI} == {
        dest: value for dest, value in expected.items() if dest not in DEFAULT_HIDES_INI}
