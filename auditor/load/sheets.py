"""Tables people keep by hand (CSV or XLSX), read through a small YAML mapping of their headers.

    # billing-map.yaml
    sheet: Invoices            # XLSX only; default the first sheet
    columns:                   # field: the header in your file
      email: Customer e-mail
      connector: Product
      period_start: From
      period_end: To
      amount: Net
    dates: "%d/%m/%Y"          # optional; default: ISO dates (2026-11-30), or real dates in XLSX
    values:                    # optional: your words for our values
      connector: {"Shopify app": conn-shopify}

A header named in the mapping but missing from the file stops the run (one line naming both).
A row with a bad date or number, or without a value it must have, is not read: it is reported
with its row number (as the spreadsheet shows it, the header being row 1), its column and why.
XLSX is read with calamine (about five times faster than openpyxl here).
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from iso4217 import Currency
from pydantic import BaseModel, ConfigDict, PrivateAttr
from python_calamine import CalamineError, PasswordError

from auditor.common.errors import AuditorError
from auditor.common.yamlfile import load_model


# the years a date of a license, a bill or a billing period may fall in: one outside them (year 0,
# 9999) is a placeholder or a typing slip, never a date to compare (and pandas cannot write it out)
DATE_YEARS = (1990, 2200)


@dataclass(frozen=True)
class Field:
    kind: str  # "text", "date", "number", "email", "currency" (an ISO 4217 code)
    required: bool = False
    minimum: float | None = None  # a number below it is refused (amounts and quantities are not negative)
    whole: bool = False  # a number must be a whole number (a quantity of stores)
    choices: tuple[str, ...] = ()  # text: one of these (compared trimmed and in lower case)


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sheet: str | int | None = None
    columns: dict[str, str]
    dates: str | None = None
    values: dict[str, dict[str, str]] = {}
    editions: list[str] = []  # billing: editions from the lowest to the highest, to compare them
    _explicit: bool = PrivateAttr(True)  # False: the default mapping, whose optional columns may be absent


def load_mapping(path: Path | None, fields: dict[str, Field], default: dict[str, str]) -> Mapping:
    """A mapping file, or the default one (each field's own name as its header)."""
    if path is None:
        mapping = Mapping(columns=default)
        mapping._explicit = False
        return mapping
    mapping = load_model(path, Mapping, "the mapping")
    unknown = set(mapping.columns) - set(fields)
    if unknown:
        raise AuditorError(f"{path}: columns: {sorted(unknown)[0]!r} is not a field here "
                           f"(fields: {', '.join(fields)})")
    return mapping


def _raw(path: Path, mapping: Mapping) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
            return pd.read_excel(path, sheet_name=mapping.sheet or 0, engine="calamine", dtype=object)
        if suffix in (".csv", ".txt"):
            with warnings.catch_warnings():
                # a row with more values than the header would shift into an index (or lose
                # values): refused, naming the row, never read askew
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", index_col=False)
    except FileNotFoundError:
        raise AuditorError(f"{path}: no such file") from None
    except pd.errors.ParserWarning:
        raise AuditorError(f"{path}: {_ragged_row(path)}") from None
    except UnicodeDecodeError as exc:
        raise AuditorError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from None
    except PasswordError:
        raise AuditorError(f"{path}: the workbook is protected by a password; save a copy without one") from None
    except (ValueError, pd.errors.ParserError, CalamineError) as exc:
        # pandas and calamine messages name sheets and lines, never cell contents
        raise AuditorError(f"{path}: cannot read it as {suffix[1:].upper()} ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:200] if str(exc) else 'not such a file'})") from None
    raise AuditorError(f"{path}: read CSV or XLSX files (this is {suffix or 'without a suffix'})")


def _ragged_row(path: Path) -> str:
    """Which row of a CSV file has more values than its header (said as the spreadsheet numbers it)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh)
        width = len(next(rows, []))
        for n, row in enumerate(rows, 2):
            if len(row) > width:
                return (f"row {n} has {len(row)} values but the header has {width}; a comma inside a value must "
                        "be quoted")
    return "a row has more values than the header"


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | series.astype(str).str.strip().eq("")


def read_table(path: Path, mapping: Mapping, fields: dict[str, Field], one_of: tuple[str, ...] = (),
               raw: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """(rows with one column per field, problems). `one_of`: at least one of these must be given
    in each row (e.g. email or account id). `raw`: the table already read (from JSON, say)."""
    raw = _raw(path, mapping) if raw is None else raw
    raw.columns = [str(c).strip() for c in raw.columns]
    if not mapping._explicit:  # without a mapping file, optional columns the file lacks are just absent
        mapping = mapping.model_copy(update={"columns": {
            f: h for f, h in mapping.columns.items() if h in raw.columns or fields[f].required}})
    missing = [(f, h) for f, h in mapping.columns.items() if h not in raw.columns]
    if missing:
        field, header = missing[0]
        raise AuditorError(f"{path}: no column {header!r} (mapped to {field}); the file has "
                           f"{', '.join(repr(c) for c in raw.columns[:12])}")
    needed = [f for f, spec in fields.items() if spec.required and f not in mapping.columns]
    if needed:
        raise AuditorError(f"{path}: the mapping names no column for {needed[0]} (required)")
    out = pd.DataFrame(index=raw.index)
    bad = pd.Series(False, index=raw.index)
    problems: list[dict] = []

    def report(rows: pd.Series, header: str, why: pd.Series | str) -> None:
        reasons = why if isinstance(why, pd.Series) else pd.Series(why, index=rows[rows].index)
        for i in rows[rows].index:
            problems.append({"file": str(path), "row": int(i) + 2, "column": header, "problem": reasons[i]})

    for field, spec in fields.items():
        header = mapping.columns.get(field)
        if header is None:
            out[field] = None
            continue
        col = raw[header]
        nested = col.map(lambda v: isinstance(v, list | dict))  # from JSON: a cell is one value
        report(nested & ~bad, header, f"{field} is not a single value")
        bad |= nested
        col = col.where(~nested)
        blank = _blank(col)
        if spec.required:
            report(blank & ~bad, header, f"{field} is empty")
            bad |= blank
        if spec.kind == "date":
            if pd.api.types.is_datetime64_any_dtype(col):
                parsed = col
            else:
                text = col.where(~blank).astype(object)
                is_date = text.map(lambda v: hasattr(v, "year"))
                parsed = pd.to_datetime(text.where(~is_date).astype("string").str.strip(), format=mapping.dates or "ISO8601",
                                        errors="coerce")
                parsed = parsed.where(~is_date, pd.to_datetime(text.where(is_date), errors="coerce"))
            wrong = ~blank & parsed.isna()
            example = mapping.dates or "YYYY-MM-DD"
            report(wrong & ~bad, header, col.astype(str).map(lambda v, e=example: f"not a date ({v!r}; expected {e})"))
            bad |= wrong
            out[field] = parsed.dt.normalize()
        elif spec.kind == "number":
            parsed = pd.to_numeric(col.where(~blank).astype("string").str.replace(",", "", regex=False).str.strip(),
                                   errors="coerce")
            wrong = ~blank & (parsed.isna() | ~np.isfinite(parsed.astype(float)))
            report(wrong & ~bad, header, col.astype(str).map(lambda v: f"not a number ({v!r})"))
            bad |= wrong
            if spec.minimum is not None:
                low = ~bad & parsed.notna() & (parsed < spec.minimum)
                report(low, header, f"{field} is below {spec.minimum:g}")
                bad |= low
            if spec.whole:
                frac = ~bad & parsed.notna() & (parsed != parsed.round())
                report(frac, header, f"{field} is not a whole number")
                bad |= frac
            out[field] = parsed
        else:
            text = col.where(~blank).astype("string").str.strip()
            if field in mapping.values:
                text = text.replace(mapping.values[field])
            if spec.choices:
                wrong = ~blank & ~text.str.lower().isin(spec.choices)
                report(wrong & ~bad, header, col.astype(str).map(
                    lambda v, c=spec.choices: f"not one of {', '.join(c)} ({v!r})"))
                bad |= wrong
            if spec.kind == "currency":
                text = text.str.upper()
                wrong = ~blank & ~text.isin([c.code for c in Currency])
                report(wrong & ~bad, header, col.astype(str).map(lambda v: f"not an ISO 4217 currency code ({v!r})"))
                bad |= wrong
            if spec.kind == "email":
                text = text.str.lower()
                wrong = ~blank & ~text.str.contains("@", na=False)
                report(wrong & ~bad, header, col.astype(str).map(lambda v: f"not an e-mail address ({v!r})"))
                bad |= wrong
            out[field] = text.astype(object).where(text.notna(), None)
    if one_of:
        none = pd.Series(True, index=raw.index)
        for field in one_of:
            none &= out[field].isna()
        headers = " or ".join(repr(mapping.columns.get(f, f)) for f in one_of)
        report(none & ~bad, headers, f"needs {' or '.join(one_of)}")
        bad |= none
    out["row"] = raw.index + 2
    out["file"] = str(path)
    return out[~bad].reset_index(drop=True), problems
