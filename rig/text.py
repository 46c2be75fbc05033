"""Text from files (maker, model, phase labels, reasons) made safe for a terminal: control characters written
out, so an escape sequence in a name is shown, never obeyed."""

from __future__ import annotations

import re

from rich.markup import escape as _rich_escape

# C0 and C1 controls, DEL, and the bidirectional marks/overrides/isolates that reorder what a terminal shows
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` with every control character written out (``\\x1b``, ``\\u202e``): safe to show on a terminal."""
    def spelled(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(spelled, str(text))


def escape(text: object) -> str:
    """``text`` for rich markup: control characters written out, markup brackets escaped."""
    return _rich_escape(printable(text))
