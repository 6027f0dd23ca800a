"""Text from the data made inert: cells that can never run as spreadsheet formulas, and lines a
terminal shows rather than acts on."""

from __future__ import annotations

import re

import pandas as pd

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


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(series: pd.Series) -> pd.Series:
    """Prefix a quote to text that a spreadsheet would read as a formula."""
    text = series.astype("string")
    risky = text.str.startswith(FORMULA_STARTS, na=False) & series.map(lambda v: isinstance(v, str))
    return series.where(~risky, "'" + text)


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = neutralise(out[col])
    return out
