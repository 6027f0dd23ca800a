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
with its row number (as the spreadsheet shows it, the header being row 1, blank lines counted), its
column and why (`action` "skipped"; a value read with a change, an e-mail address without its
invisible characters, is reported with `action` "counted"). A cell holding a formula is not read
(its result as last saved may be stale, or missing); a header the mapping reads given twice stops
the run; an old binary workbook (.xls, .xlsb), whose formulas cannot be told, is refused.
XLSX is read with calamine (much faster than openpyxl here).
"""

from __future__ import annotations

import csv
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

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
    if suffix in (".xls", ".xlsb"):
        raise AuditorError(f"{path}: a binary workbook ({suffix}) cannot be told to hold formulas or values; "
                           "save it as .xlsx or CSV")
    try:
        if suffix in (".xlsx", ".xlsm", ".ods"):
            raw = pd.read_excel(path, sheet_name=mapping.sheet or 0, engine="calamine", dtype=object)
            raw.attrs["formulas"] = _formula_cells(path, mapping.sheet)
            return raw
        if suffix in (".csv", ".txt"):
            with warnings.catch_warnings():
                # a row with more values than the header would shift into an index (or lose
                # values): refused, naming the row, never read askew
                warnings.simplefilter("error", pd.errors.ParserWarning)
                # blank lines are kept while reading (a line of bare carriage returns, say), so that
                # every row keeps the number a spreadsheet gives it; they are dropped after
                raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", index_col=False,
                                  skip_blank_lines=False)
                return raw[~raw.apply(_blank).all(axis=1)] if len(raw.columns) else raw
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


def clean_email(value: str) -> str:
    """An e-mail address as compared: NFKC (full-width letters are the letters they look like),
    without format characters (zero-width spaces and joiners, U+FEFF, bidi marks: invisible, so
    what is shown is not what would be matched), trimmed, in lower case."""
    text = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip().lower()


def _refuse_twice(path: Path, mapping: Mapping, names: list[str]) -> None:
    """A header the mapping reads that the file gives twice (`Stores,Stores`, or once with a
    trailing space) is refused: which column holds the field is unknown. Readers rename the
    second `Stores.1`; that is undone here to find it."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        plain = name.strip()
        renamed = re.fullmatch(r"(.*)\.(\d+)", plain)
        if renamed and renamed.group(1).strip() in seen and plain not in seen:
            plain = renamed.group(1).strip()
        if plain in seen and plain in mapping.columns.values():
            field = next(f for f, h in mapping.columns.items() if h == plain)
            raise AuditorError(f"{path}: the header {plain!r} is given twice (columns {seen[plain] + 1} and {i + 1}); "
                               f"which one holds {field} is unknown: keep one")
        seen.setdefault(plain, i)


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _formula_cells(path: Path, sheet: str | int | None) -> set[tuple[int, int]]:
    """(row as the spreadsheet numbers it, column from 0) of every cell of the sheet read that
    holds a formula. A workbook keeps a formula's result as last computed (none at all when written
    by a program, a stale one when its inputs changed since): that result is never read as data."""
    try:
        with zipfile.ZipFile(path) as book:
            if path.suffix.lower() == ".ods":
                return _ods_formulas(book, sheet)
            ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                  "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
            sheets = ElementTree.fromstring(book.read("xl/workbook.xml")).findall("m:sheets/m:sheet", ns)
            chosen = next((e for i, e in enumerate(sheets)
                           if (e.get("name") == sheet if isinstance(sheet, str) else i == (sheet or 0))), None)
            if chosen is None:
                return set()
            rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
            rid = chosen.get(f"{{{ns['r']}}}id")
            target = next((r.get("Target") for r in rels if r.get("Id") == rid), None)
            if target is None:
                return set()
            name = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            found = set()
            cell_tag, formula_tag = f"{{{ns['m']}}}c", f"{{{ns['m']}}}f"
            for _, element in ElementTree.iterparse(book.open(name)):
                if element.tag == cell_tag:
                    ref = element.get("r") or ""
                    letters = ref.rstrip("0123456789")
                    if element.find(formula_tag) is not None and letters.isalpha() and ref[len(letters):].isdigit():
                        found.add((int(ref[len(letters):]), _column_number(letters.upper())))
                    element.clear()
            return found
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError, ValueError) as exc:
        raise AuditorError(f"{path}: cannot tell its formulas from its values ({type(exc).__name__})") from None


def _ods_formulas(book: zipfile.ZipFile, sheet: str | int | None) -> set[tuple[int, int]]:
    table_ns = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    t = f"{{{table_ns}}}"
    found: set[tuple[int, int]] = set()
    tables = 0
    for _, element in ElementTree.iterparse(book.open("content.xml")):
        if element.tag != f"{t}table":
            continue
        if (element.get(f"{t}name") == sheet) if isinstance(sheet, str) else tables == (sheet or 0):
            row = 0
            for tr in element.iter(f"{t}table-row"):
                col = 0
                for cell in tr:
                    span = int(cell.get(f"{t}number-columns-repeated", "1"))
                    if cell.get(f"{t}formula") is not None:
                        found |= {(row + 1, c) for c in range(col, col + min(span, 10_000))}
                    col += span
                row += int(tr.get(f"{t}number-rows-repeated", "1"))
            return found
        tables += 1
        element.clear()
    return found


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | series.astype(str).str.strip().eq("")


def read_table(path: Path, mapping: Mapping, fields: dict[str, Field], one_of: tuple[str, ...] = (),
               raw: pd.DataFrame | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """(rows with one column per field, problems). `one_of`: at least one of these must be given
    in each row (e.g. email or account id). `raw`: the table already read (from JSON, say)."""
    raw = _raw(path, mapping) if raw is None else raw
    formulas = raw.attrs.get("formulas", set())
    names = [str(c) for c in raw.columns]
    raw.columns = [name.strip() for name in names]
    _refuse_twice(path, mapping, names)
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
            problems.append({"file": str(path), "row": int(i) + 2, "column": header, "problem": reasons[i],
                             "action": "skipped"})

    if formulas:  # a formula's cached result is no value to read: the row is not read, and said why
        at = {name: i for i, name in reversed(list(enumerate(raw.columns)))}
        for field, header in mapping.columns.items():
            rows = raw.index.to_series().map(lambda i, c=at[header]: (int(i) + 2, c) in formulas).astype(bool)
            report(rows & ~bad, header, f"{field} is a formula; its result as last saved is not read (save the "
                                        "sheet's values: copy, paste special, values)")
            bad |= rows
    for field, spec in fields.items():
        header = mapping.columns.get(field)
        if header is None:  # a column the file does not have: empty, but of its field's type (None
            # cannot be compared, NaN and NaT can)
            out[field] = {"number": float("nan"), "date": pd.NaT}.get(spec.kind)
            if spec.kind == "date":
                out[field] = pd.to_datetime(out[field])
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
            far = ~bad & parsed.notna() & ~parsed.dt.year.between(*DATE_YEARS)  # year 0, 9999: no such day here
            report(far, header, f"{field} is outside the years {DATE_YEARS[0]} to {DATE_YEARS[1]}")
            bad |= far
            parsed = parsed.where(~far)
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
                cleaned = text.map(clean_email, na_action="ignore")
                hidden = ~bad & text.notna() & (cleaned != text.str.lower())
                for i in hidden[hidden].index:  # read, but said: the address differs from what is shown
                    problems.append({"file": str(path), "row": int(i) + 2, "column": header, "action": "counted",
                                     "problem": f"{field} holds invisible characters or letters in another form; "
                                                "read without them, in lower case"})
                text = cleaned.astype("string")
                wrong = ~blank & ~text.str.fullmatch(r"[^@\s]+@[^@\s]+", na=False)
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
