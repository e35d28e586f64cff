"""Text from reports and journals, made safe for a terminal.

A report.json or a journal may come from someone else: an experiment name, an error, a target
or a reason can hold ESC sequences (clear the screen, rewrite the line above, set the window
title) or bidi overrides that make text read differently from what it is. Everything such a
file says goes through ``printable`` before it reaches a terminal.
"""

from __future__ import annotations

import unicodedata

# Cc: C0 and C1 controls, DEL; Cf: format characters (bidi overrides and isolates, zero-width);
# Zl/Zp: line and paragraph separators; Cs: lone surrogates (JSON can hold them, a terminal's
# encoder cannot)
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(value: object, *, newlines: bool = False) -> str:
    """``str(value)`` with every control, format or separator character shown as an escape
    (``\\x1b``, ``\\u202e``); newlines kept only where the caller prints several lines."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(ch if (ch == "\n" and newlines) or unicodedata.category(ch) not in _HIDDEN
                   else _escape(ch) for ch in text)


def excerpt(value: object, limit: int = 60) -> str:
    """``printable`` on one line, cut to about ``limit`` characters: what an error quotes."""
    text = printable(value)
    return text if len(text) <= limit else text[:limit] + "..."
