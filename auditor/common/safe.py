"""Cells that can never run as spreadsheet formulas (terminal text: `auditor.common.terminal`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: plain rows need no pandas
    import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral(value):
    """One value: text that a spreadsheet would read as a formula gets the quote prefix (a dash
    alone, the tool's own word for 'none', is no formula)."""
    risky = isinstance(value, str) and value.startswith(FORMULA_STARTS) and value.strip("-")
    return "'" + value if risky else value


def neutralise(series: pd.Series) -> pd.Series:
    """Prefix a quote to text that a spreadsheet would read as a formula (not to a dash alone)."""
    text = series.astype("string")
    risky = (text.str.startswith(FORMULA_STARTS, na=False) & (text.str.strip("-") != "").fillna(False)
             & series.map(lambda v: isinstance(v, str)))
    return series.where(~risky, "'" + text)


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = neutralise(out[col])
    return out
