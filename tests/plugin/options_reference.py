"""docs/options.md, the reference of the pytest plugin's options and ini keys, generated from
what chaos/plugin/options.py declares to pytest's parser (what `pytest --help` shows).

``python tests/plugin/options_reference.py`` rewrites it; tests/plugin/test_options_reference.py
fails when the committed file differs from what the plugin declares (so nobody edits it by
hand, and a changed option shows in review as a changed reference).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from _pytest.config.argparsing import Parser

DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "options.md"
GROUP = "chaos"

HEADER = """\
# Options of the pytest plugin

Generated from `chaos/plugin/options.py` by `python tests/plugin/options_reference.py`; do not
edit by hand. The options `pytest --help` lists under "{title}",
in its order. Each has an ini key (pytest.ini, or `[tool.pytest.ini_options]` in pyproject.toml)
of the same meaning; the command line wins over it.
"""


def declared() -> Parser:
    """A pytest parser holding only what the plugin declares."""
    from chaos.plugin.options import pytest_addoption

    parser = Parser(_ispytest=True)
    pytest_addoption(parser)
    return parser


def _shown(value: Any) -> str:
    if value is None or value == []:
        return "none"
    if value is False:
        return "off"
    return f"`{value}`"


def _takes(action: argparse.Action) -> str:
    if isinstance(action, argparse._StoreTrueAction):
        return "a flag"
    if action.choices:
        return "one of " + ", ".join(f"`{c}`" for c in action.choices)
    if isinstance(action, argparse._AppendAction):
        return "a value; repeatable"
    return "a value"


def options_markdown(parser: Parser | None = None) -> str:
    """The reference: one section per option, in the order `pytest --help` lists them."""
    parser = parser or declared()
    group = parser.getgroup(GROUP)
    inis: dict[str, tuple[str, Any, Any]] = parser._inidict
    lines = [HEADER.format(title=group._arggroup.title)]
    for arg in group.options:
        action: argparse.Action = arg._action
        ini = action.help.rsplit(" (ini: ", 1)[1].removesuffix(")") if action.help else ""
        ini_help, ini_type, ini_default = inis[ini]
        lines += [f"## `{' '.join(arg.names())}`", "",
                  ini_help.replace("<", "\\<"), "",
                  f"- takes: {_takes(action)}",
                  f"- default: {_shown(action.default)}",
                  f"- ini key: `{ini}` ({ini_type}; default {_shown(ini_default)})", ""]
    return "\n".join(lines)


def main() -> int:
    DOCS_PATH.write_text(options_markdown())
    print(f"wrote {DOCS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
