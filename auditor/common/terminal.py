"""Lines a terminal shows rather than acts on."""

from __future__ import annotations

import re

# What a terminal would act on rather than show: C0 controls but tab and newline (a carriage
# return too, unless it ends a CRLF line), DEL, the C1 controls (0x9b is a one-byte escape
# sequence), and the bidirectional overrides that reorder what is shown.
_CONTROL = re.compile("\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, newlines: bool = True) -> str:
    """`text` with every control character shown escaped (`\\x1b`, `\\u202e`), for a terminal;
    `newlines=False` for what must stay one line (an error), so data cannot forge a second."""
    if not newlines:
        text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return _CONTROL.sub(lambda m: (f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}"), text)
