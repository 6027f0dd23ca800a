"""The Excel workbook: one sheet per table. XlsxWriter (in constant memory) writes the workbook,
the headers, formats, totals and charts; each table's rows are made into sheet XML here, a batch
of rows at a time into a temporary file, and spliced into the sheet after its header row.

Every sheet has a bold frozen header with filter buttons (Excel tables cannot be streamed, so
autofilter it is), numbers as numbers,
dates as dates, shares as percentages, severity and status coloured by conditional formats.
The Summary sheet has live totals (SUBTOTAL, so they follow the filter) and a native chart of
used against entitled. Text that Excel could read as a formula is written as text with the
quote prefix, and text longer than a cell holds is cut, each cut listed on the About sheet.
"""

from __future__ import annotations

import math
import re
import tempfile
import zipfile
from datetime import date, datetime
from numbers import Number
from pathlib import Path
from typing import IO

import pandas as pd
import xlsxwriter

from auditor import __version__
from auditor.common.errors import AuditorError
from auditor.common.files import remove, temp_beside, uninterrupted
from auditor.common.safe import FORMULA_STARTS
from auditor.report.tables import SEVERITIES, Report, advice_table, column_kind, migration_table

MAX_CELL = 32_767
MAX_ROWS = 1_048_576 - 2  # the header, and the totals row on Summary
CHART_ROWS = 30


# value -> (font, fill): readable on screen and in print, never colour alone (the text says it)
COLOURS = {
    "critical": ("#FFFFFF", "#8B0000"), "high": ("#9C0006", "#FFC7CE"), "medium": ("#9C5700", "#FFEB9C"),
    "low": ("#1F4E79", "#DDEBF7"), "info": ("#404040", "#EDEDED"),
    "alarm": ("#9C0006", "#FFC7CE"), "error": ("#FFFFFF", "#7030A0"), "skip": ("#404040", "#EDEDED"),
    "ok": ("#006100", "#C6EFCE"),
    "over": ("#9C0006", "#FFC7CE"), "at limit": ("#9C5700", "#FFEB9C"), "within": ("#006100", "#C6EFCE"),
    "unknown": ("#404040", "#EDEDED"), "not on this plan": ("#404040", "#EDEDED"),
    "unlimited": ("#006100", "#C6EFCE"), "expired": ("#9C0006", "#FFC7CE"), "unused": ("#9C5700", "#FFEB9C"),
    "active": ("#006100", "#C6EFCE"), "skipped": ("#9C5700", "#FFEB9C"),
}
COLOURED = {"severity", "status", "flows status", "endpoints status", "action"}


class _Writer:
    def __init__(self, path: Path, as_of: str | None = None):
        self.path = path
        # XlsxWriter writes the file when the book is closed: a unique temporary name beside the
        # workbook, renamed to it once whole; its own temporary files in a folder of their own
        self.tmp = temp_beside(path)
        self.scratch = tempfile.TemporaryDirectory(prefix="auditor-xlsx-", ignore_cleanup_errors=True)
        self.book = xlsxwriter.Workbook(str(self.tmp), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "remove_timezone": True, "tmpdir": self.scratch.name,
        })
        b = self.book
        # stamped with the audit date, not the time of writing: the same results give the same bytes
        if as_of:
            b.set_properties({"created": datetime.fromisoformat(as_of)})
        self.fmt = {
            "text": None, "quoted": b.add_format({"quote_prefix": True}),
            "date": b.add_format({"num_format": "yyyy-mm-dd"}), "share": b.add_format({"num_format": "0%"}),
            "date_left": b.add_format({"num_format": "yyyy-mm-dd", "align": "left", "valign": "top"}),
            "int": b.add_format({"num_format": "#,##0"}), "bold": b.add_format({"bold": True}),
            "header": b.add_format({"bold": True, "bg_color": "#D9E1F2", "bottom": 1, "text_wrap": True,
                                    "valign": "top"}),
            "title": b.add_format({"bold": True, "font_size": 14}),
            "total": b.add_format({"bold": True, "num_format": "#,##0", "top": 1}),
            "total_label": b.add_format({"bold": True, "top": 1}),
            "money": b.add_format({"num_format": "#,##0.00"}),
            "total_money": b.add_format({"bold": True, "num_format": "#,##0.00", "top": 1}),
            "wrap": b.add_format({"text_wrap": True, "valign": "top"}),
        }
        self.colour = {k: b.add_format({"font_color": f, "bg_color": g}) for k, (f, g) in COLOURS.items()}
        self.cuts: list[str] = []  # "Sheet!A1: 40,000 characters cut to 32,767"
        self.capped: list[str] = []
        # sheet number -> (header row, last row, file of the rows' XML) of each table on it
        self.splices: dict[int, list[tuple[int, int, IO[bytes]]]] = {}

    def money_format(self, kind: str, total: bool = False):
        """The number format of a column of money: 'money' (no currency said), or 'money:USD', an
        amount in that currency with its code and its minor unit's decimals ([$USD] #,##0.00)."""
        if kind == "money":
            return self.fmt["total_money" if total else "money"]
        name = f"total_{kind}" if total else kind
        if name not in self.fmt:
            from auditor.load.prices import minor_unit
            code = kind.partition(":")[2]  # three capital letters (tables.column_kind): nothing to escape
            places = minor_unit(code)
            spec = {"num_format": f"[${code}] #,##0" + ("." + "0" * places if places else "")}
            self.fmt[name] = self.book.add_format({**spec, "bold": True, "top": 1} if total else spec)
        return self.fmt[name]

    def cut(self, value: str, where: str) -> str:
        """A text as long as a cell holds; each cut listed (for the About sheet)."""
        if len(value) <= MAX_CELL:
            return value
        self.cuts.append(f"{where}: {len(value):,} characters cut to {MAX_CELL:,}")
        return value[:MAX_CELL]

    def text(self, sheet, row: int, col: int, value: str, name: str) -> None:
        value = self.cut(value, f"{name}!{xlsxwriter.utility.xl_rowcol_to_cell(row, col)}")
        if value.startswith("<r>") and value.endswith("</r>"):
            # XlsxWriter writes such a text as raw XML (as rich text); as three plain runs it is escaped
            sheet.write_rich_string(row, col, value[:1], value[1:2], value[2:])
            return
        fmt = self.fmt["quoted"] if value.startswith(FORMULA_STARTS) else None
        sheet.write_string(row, col, value, fmt)

    def table(self, name: str, frame: pd.DataFrame, *, widths: dict[str, int] | None = None,
              first_row: int = 0, sheet=None, totals: tuple[str, ...] = (), freeze: bool = True):
        """Write `frame` with a bold header and an autofilter from `first_row`; returns the sheet."""
        sheet = sheet or self.book.add_worksheet(name)
        if len(frame) > MAX_ROWS:
            self.capped.append(f"{name}: {len(frame):,} rows, the first {MAX_ROWS:,} written; "
                               "the CSV files and the results file have them all")
            frame = frame.iloc[:MAX_ROWS]
        columns = list(frame.columns)
        kinds = [column_kind(c) for c in columns]
        last = first_row + max(len(frame), 1)
        sizes = [(widths or {}).get(c, _width(c, frame.get(c))) for c in columns]
        # headers wrap in narrow columns: a header row tall enough to show them whole (set before
        # the row is written: constant memory writes rows in order)
        lines = max([1] + [-(-len(c) // max(w - 1, 1)) for c, w in zip(columns, sizes)])
        sheet.set_row(first_row, 15 * min(lines, 4))
        for col, column in enumerate(columns):
            sheet.write_string(first_row, col, column, self.fmt["header"])
        sheet.autofilter(first_row, 0, last, len(columns) - 1)
        if freeze:
            sheet.freeze_panes(first_row + 1, 0)
            # printed: landscape, as wide as the page, the header on every page
            sheet.set_landscape()
            sheet.fit_to_pages(1, 0)
            sheet.repeat_rows(first_row)
        self._rows(sheet, frame, kinds, first_row, name)
        for col, column in enumerate(columns):
            if column in COLOURED:
                for value, fmt in self.colour.items():
                    sheet.conditional_format(first_row + 1, col, last, col, {
                        "type": "cell", "criteria": "==", "value": f'"{value}"', "format": fmt})
            if kinds[col] == "share":
                sheet.conditional_format(first_row + 1, col, last, col, {
                    "type": "data_bar", "bar_color": "#F4B183", "bar_solid": True, "min_type": "num",
                    "min_value": 0, "max_type": "num", "max_value": 1})
            sheet.set_column(col, col, sizes[col])
        if totals:
            label_done = False
            for col, column in enumerate(columns):
                if column in totals:
                    ref = xlsxwriter.utility.xl_range(first_row + 1, col, last, col)
                    # the sum as the cached value too, for viewers that do not recalculate
                    total = pd.to_numeric(frame[column], errors="coerce").sum()
                    money = kinds[col].startswith("money")
                    style = self.money_format(kinds[col], total=True) if money else self.fmt["total"]
                    sheet.write_formula(last + 1, col, f"=SUBTOTAL(109,{ref})", style,
                                        float(total) if money else int(total))
                elif not label_done:
                    sheet.write_string(last + 1, col, "Total (visible rows)", self.fmt["total_label"])
                    label_done = True
        return sheet

    def _rows(self, sheet, frame: pd.DataFrame, kinds: list[str], first_row: int, name: str) -> None:
        """The cells, as the sheet's XML rows, into a temporary file that `close` splices in after
        the header row: XlsxWriter's cell by cell writing was the workbook's cost at millions of
        cells; this is several times faster. The XML is what XlsxWriter writes in constant
        memory (inline strings, `_xHHHH_` for control characters), but every text is escaped:
        XlsxWriter writes one that starts with `<r>` and ends with `</r>` unescaped, as rich text,
        so data could break the sheet's XML."""
        if frame.empty:
            return
        cells = [_Cells(xlsxwriter.utility.xl_col_to_name(col), kind, self, name) for col, kind in enumerate(kinds)]
        out = tempfile.TemporaryFile()
        self.splices.setdefault(self.book.worksheets().index(sheet), []).append((first_row + 1, first_row + len(frame) + 1, out))
        columns = [frame[c].tolist() for c in frame.columns]
        for start in range(0, len(frame), ROWS_A_BATCH):
            rows = range(first_row + 2 + start, first_row + 2 + min(start + ROWS_A_BATCH, len(frame)))
            parts = [cell.xml(rows, values[start:start + len(rows)]) for cell, values in zip(cells, columns)]
            out.write("".join(f'<row r="{r}">{"".join(row)}</row>' for r, row in zip(rows, zip(*parts)))
                      .encode())

    def close(self) -> None:
        """Write the workbook and put it in place; on any failure (Ctrl-C too) nothing is left."""
        spliced = temp_beside(self.path)
        try:
            self.book.close()
            if self.splices:
                _splice(self.tmp, spliced, self.splices)
                remove(self.tmp)
                with uninterrupted():
                    spliced.replace(self.path)
            else:
                with uninterrupted():
                    self.tmp.replace(self.path)
        except (OSError, xlsxwriter.exceptions.FileCreateError) as exc:
            raise AuditorError(f"{self.path}: cannot write the workbook ({exc})") from None
        finally:
            remove(spliced)
            self.discard()

    def discard(self) -> None:
        """Close and remove every temporary file of the workbook (what `close` has not put in place)."""
        for tables in self.splices.values():
            for *_, rows in tables:
                rows.close()
        remove(self.tmp)
        self.scratch.cleanup()


def _splice(book: Path, out: Path, splices: dict[int, list[tuple[int, int, IO[bytes]]]]) -> None:
    """Copy the workbook XlsxWriter wrote into `out`, each table's rows put in after its header
    row and the sheet's dimension stretched over them. Entries keep their names, order and dates."""
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            # deflate level 3, not 6: much faster, a file slightly larger. (ZipInfo.compress_level from
            # Python 3.13, which keeps this name)
            info._compresslevel = 3
            number = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", info.filename)
            tables = splices.get(int(number.group(1)) - 1) if number else None
            if not tables:
                dst.writestr(info, data)
                continue
            last = max(end for _, end, _ in tables)
            dim = re.search(rb'<dimension ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"/>', data)
            first_col, first_row, last_col, last_row = dim.groups()
            ref = b'<dimension ref="%s%s:%s%d"/>' % (first_col, first_row, last_col or first_col,
                                                     max(int(last_row or first_row), last))
            data = data[:dim.start()] + ref + data[dim.end():]
            info.file_size = len(data) + sum(_size(rows) for *_, rows in tables)
            with dst.open(info, "w") as entry:
                done = 0
                for header, _, rows in tables:
                    start = re.compile(rb'<row r="%d"[ >]' % header).search(data, done).start()
                    at = data.index(b"</row>", start) + len(b"</row>")
                    entry.write(data[done:at])
                    done = at
                    rows.seek(0)
                    while chunk := rows.read(1 << 20):
                        entry.write(chunk)
                entry.write(data[done:])


def _size(handle: IO[bytes]) -> int:
    here = handle.tell()
    size = handle.seek(0, 2)
    handle.seek(here)
    return size


ROWS_A_BATCH = 20_000  # rows made into XML at once: bounds the memory a big sheet takes
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_ESCAPE_LIKE = re.compile(r"(_x[0-9a-fA-F]{4}_)")
# what a cell's text cannot hold in the sheet's XML as it is: XML's specials (escaped), control
# characters and the two non-characters XML refuses (as Excel's _xHHHH_), text that looks like
# such an escape (its underscore escaped), and space at either end (kept by xml:space)
_UNPLAIN = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$")
# the same over a column's texts joined by \x7f, with the starts of formulas: simple searches, each
# a scan in C (one alternation of them all was slower)
_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]")
_STARTS = re.compile(r"\x7f(?:\s|" + "|".join(map(re.escape, FORMULA_STARTS)) + ")")
_ENDS = re.compile(r"\s\x7f")


def _risky(texts: list[str]) -> bool:
    """Whether any of `texts` needs escaping, the quote prefix or cutting."""
    joined = "\x7f" + "\x7f".join(texts) + "\x7f"
    return bool(max(map(len, texts)) > MAX_CELL or _SPECIAL.search(joined) or _STARTS.search(joined)
                or _ENDS.search(joined) or ("_x" in joined and _ESCAPE_LIKE.search(joined)))


_EPOCH = datetime(1899, 12, 31)


class _Cells:
    """One column's cells as XML, in the branches `_Writer.text` and XlsxWriter's writers took."""

    def __init__(self, letter: str, kind: str, writer: _Writer, sheet: str):
        self.letter, self.kind, self.writer, self.sheet = letter, kind, writer, sheet
        self.plain = kind not in ("bool", "date")
        self.number = kind in ("int", "share", "money") or kind.startswith("money:")
        if kind.startswith("money:"):
            writer.money_format(kind)

    def style(self, name: str) -> str:
        """The cell's style attribute; a format gets its number in the workbook when first used."""
        return f' s="{self.writer.fmt[name]._get_xf_index()}"'

    def xml(self, rows: range, values: list) -> list[str]:
        ref, other = self.letter, self.other
        if self.number:  # the common numbers the short way
            style = self.style(self.kind)
            return [f'<c r="{ref}{r}"{style}><v>{v:.16G}</v></c>' if type(v) is int else other(f"{ref}{r}", v)
                    for r, v in zip(rows, values)]
        if not self.plain:
            return [other(f"{ref}{r}", v) for r, v in zip(rows, values)]
        texts = [v for v in values if type(v) is str]
        if texts and _risky(texts):
            text = self.text  # some text to escape, quote or cut: each looked at
            return [text(f"{ref}{r}", v) if type(v) is str and len(v) <= MAX_CELL else other(f"{ref}{r}", v)
                    for r, v in zip(rows, values)]
        return [f'<c r="{ref}{r}" t="inlineStr"><is><t>{v}</t></is></c>' if type(v) is str else other(f"{ref}{r}", v)
                for r, v in zip(rows, values)]

    def text(self, ref: str, value: str) -> str:
        style = self.style("quoted") if value.startswith(FORMULA_STARTS) else ""
        space = ""
        if _UNPLAIN.search(value):
            value = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", _ESCAPE_LIKE.sub(r"_x005F\1", value))
            if value[:1].isspace() or value[-1:].isspace():
                space = ' xml:space="preserve"'
            value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{value}</t></is></c>'

    def other(self, ref: str, value) -> str:
        if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
            return ""  # a blank cell without a format is not written at all
        if self.number and isinstance(value, Number) and math.isfinite(value):
            return f"<c r=\"{ref}\"{self.style(self.kind)}><v>{value:.16G}</v></c>"
        if self.kind == "bool" or isinstance(value, bool):
            return f'<c r="{ref}" t="b"><v>{int(bool(value))}</v></c>'
        if self.kind == "date":
            delta = pd.Timestamp(value).to_pydatetime().replace(tzinfo=None) - _EPOCH
            serial = delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
            return f'<c r="{ref}"{self.style("date")}><v>{serial + (serial > 59):.16G}</v></c>'
        if isinstance(value, int | float) and math.isfinite(value):
            return f"<c r=\"{ref}\"><v>{value:.16G}</v></c>"
        return self.text(ref, self.writer.cut(str(value), f"{self.sheet}!{ref}"))


def _width(header: str, values: pd.Series | None) -> int:
    """Wide enough for the header's longest word (headers wrap) and most values (the 95th
    percentile of a sample), at most 60: narrow number columns keep a sheet printable."""
    word = max(len(w) for w in header.split()) if header.strip() else 0
    kind = column_kind(header)
    if kind.startswith("money"):
        return max(word + 2, 12 if kind == "money" else 14)
    if kind in ("int", "share", "bool"):
        return max(word + 2, 9)
    if kind == "date":
        return max(word + 2, 12)
    longest = 0
    if values is not None and len(values):
        sample = values.iloc[:2000].dropna().astype(str).str.len()
        longest = int(sample.quantile(0.95)) if len(sample) else 0
    return max(8, min(60, max(word, longest) + 2))


# what a page prints across, in pixels of column width: a landscape Letter page is 920 at 96 dpi
# (11 in less 0.7 in margins; A4 is wider), but LibreOffice lays a sheet out in about 690 (measured
# with 'soffice --convert-to pdf'): the smaller, so that both print every page whole
PAGE_PIXELS = 660


def _print_split(sheet, frame: pd.DataFrame, breaks: list[int], last: int) -> None:
    """Print the columns up to `last` in pages across that start at `breaks` (the first two
    columns, account and environment, repeated on each), at the one scale that fits the widest of
    them: twenty columns squeezed onto one page came out at 56% and less, too small to read."""
    pixels = [_width(c, frame[c]) * 7 + 5 for c in frame.columns[:last + 1]]  # Calibri 11, as Excel sizes them
    starts = [0, *breaks]
    pages = [sum(pixels[a:b]) + (sum(pixels[:2]) if a else 0) for a, b in zip(starts, [*breaks, last + 1])]
    sheet.set_v_pagebreaks(breaks)
    sheet.set_print_scale(max(10, min(100, PAGE_PIXELS * 100 // max(pages))))  # turns "fit to page" off


def _chart(w: _Writer, summary: pd.DataFrame, sheet, anchor_row: int) -> None:
    """Used against entitled, endpoints and billable flows, per account and environment (the 30
    most used, by share of endpoints, when there are more)."""
    data = summary.copy()
    title = "Used against entitled"
    if len(data) > CHART_ROWS:
        order = data["endpoints share"].astype("Float64").fillna(-1).sort_values(ascending=False, kind="stable")
        data = data.loc[order.index[:CHART_ROWS]]
        title += f" (the {CHART_ROWS} most used of {len(summary)} environments)"
    helper = w.book.add_worksheet("Chart data")
    helper.hide()
    headers = ["account / environment", "endpoints used", "endpoints entitled", "billable flows", "flows entitled"]
    for col, h in enumerate(headers):
        helper.write_string(0, col, h)
    for row, r in enumerate(data[["account", "environment", *headers[1:]]].itertuples(index=False, name=None), 1):
        w.text(helper, row, 0, f"{r[0]} / {r[1]}", "Chart data")
        for col, value in enumerate(r[2:], 1):
            if pd.isna(value):
                helper.write_blank(row, col, None)
            else:
                helper.write_number(row, col, value)
    n = len(data)
    chart = w.book.add_chart({"type": "bar"})
    for col, (name, colour) in enumerate((("endpoints used", "#C00000"), ("endpoints entitled", "#F4B183"),
                                          ("billable flows", "#2F5597"), ("flows entitled", "#9DC3E6")), 1):
        chart.add_series({"name": ["Chart data", 0, col], "categories": ["Chart data", 1, 0, n, 0],
                          "values": ["Chart data", 1, col, n, col], "fill": {"color": colour}})
    chart.set_title({"name": title})
    chart.set_x_axis({"name": "count", "min": 0})
    chart.set_y_axis({"reverse": True})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 760, "height": max(320, 60 + 40 * n)})
    sheet.insert_chart(anchor_row, 1, chart)


TREND_CHARTS = 6


def _trend_sheet(w: _Writer, report: Report) -> None:
    """The forecast per account, environment and metric, the monthly points under it, and a line
    chart per account and environment (the ones closest to a limit first)."""
    sheet = w.book.add_worksheet("Trend")
    sheet.write_string(0, 0, "Trend and forecast", w.fmt["title"])
    w.text(sheet, 1, 0, (report.results.get("trend") or {}).get("method", ""), "Trend")
    fc = report.forecast
    w.table("Forecast", fc, sheet=sheet, first_row=3, freeze=False, widths={"forecast": 60})
    top = 3 + max(len(fc), 1) + 3
    sheet.write_string(top - 1, 0, "Monthly audits (the last of each month)", w.fmt["bold"])
    points = report.trend
    w.table("Points", points, sheet=sheet, first_row=top, freeze=False)
    # rows of each account and environment are contiguous in the points table: chart them as they are
    at_risk = fc.assign(_c=fc["crosses in"].fillna("9999"), _s=fc["used"] / fc["entitled"].where(fc["entitled"] > 0))
    order = at_risk.sort_values(["_c", "_s"], ascending=[True, False])[["account", "environment"]].drop_duplicates()
    for n, (account, env) in enumerate(order.head(TREND_CHARTS).itertuples(index=False)):
        rows = points.index[(points["account"] == account) & (points["environment"] == env)]
        first, last = top + 1 + int(rows.min()), top + 1 + int(rows.max())
        chart = w.book.add_chart({"type": "line"})
        columns = list(points.columns)
        for name, colour, dash in (("endpoints used", "#C00000", None), ("endpoints entitled", "#C00000", "dash"),
                                   ("billable flows", "#2F5597", None), ("flows entitled", "#2F5597", "dash")):
            col = columns.index(name)
            line = {"color": colour, "width": 2.25}
            if dash:
                line["dash_type"] = dash
            chart.add_series({"name": name, "categories": ["Trend", first, columns.index("month"), last,
                                                           columns.index("month")],
                              "values": ["Trend", first, col, last, col], "line": line,
                              "marker": {"type": "none" if dash else "circle"}})
        chart.set_title({"name": f"{account} / {env}"})
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": 620, "height": 300})
        sheet.insert_chart(3 + 16 * n, len(fc.columns) + 1, chart)


def write_xlsx(report: Report, path: Path) -> dict:
    """Write the workbook; returns what was cut ({"cells": [...], "sheets": [...]})."""
    w = _Writer(path, report.meta.get("as_of"))
    try:
        return _book(w, report)
    except OSError as exc:  # XlsxWriter's own temporary files while the book is made (a full disk)
        w.discard()
        raise AuditorError(f"{path}: cannot write the workbook ({exc.strerror or exc})") from None
    except BaseException:  # an error or Ctrl-C while the book is made: no temporary file is left
        w.discard()
        raise


def _book(w: _Writer, report: Report) -> dict:
    meta = report.meta
    if report.no_accounts:
        return _sections_book(w, report)
    summary = w.book.add_worksheet("Summary")
    summary.write_string(0, 0, f"{'What if: ' if meta.get('whatif') else ''}License audit as of {meta['as_of']}",
                         w.fmt["title"])
    summary.write_string(1, 0, f"policy {meta['policy']} · profile {meta['profile']} · auditor {meta['tool_version']}")
    if meta.get("whatif"):  # on top: the counts as if edited, not the account's real state
        w.text(summary, 1, 0, f"What if: {meta['whatif']} · policy {meta['policy']} · profile {meta['profile']}",
               "Summary")
    if meta.get("caveat"):
        w.text(summary, 2, 0, meta["caveat"], "Summary")
    # what is used adds up across environments; what is entitled does not (environments may draw on
    # one license pool, as a staging environment on sandbox's): entitlements get no total
    # so does what is over, and money of one currency (each money column is of one)
    totals = ("billable flows", "endpoints used", "trading partners used", "agents used", *SEVERITIES,
              "account-wide", "muted alarms", "flows over by", "endpoints over by", "trading partners over by",
              "agents over by", *[c for c in report.summary.columns if column_kind(c).startswith("money:")])
    w.table("Summary", report.summary, sheet=summary, first_row=3, totals=totals,
            widths={"flows entitled from": 50, "endpoints entitled from": 50, "trading partners entitled from": 50,
                    "agents entitled from": 50})
    # printed: the columns up to the alarms (shares, license model and the long 'entitled from'
    # texts are in the sheet, and in the results), on three pages across with account and
    # environment on each and the header on every page
    cols = list(report.summary.columns)
    summary.print_area(3, 0, 3 + max(len(report.summary), 1) + 1, cols.index("muted alarms"))
    summary.repeat_columns(0, 1)
    # pages across: usage against entitlements; trading partners and agents; the alarms
    _print_split(summary, report.summary, [cols.index("trading partners used"), cols.index("critical")],
                 cols.index("muted alarms"))
    # the title on every page instead of above the table (where the second page would cut it)
    title = f"License audit as of {meta['as_of']} · policy {meta['policy']} · profile {meta['profile']}"
    summary.set_header(f"&L&B{title.replace('&', '&&')[:200]}&R&P of &N")
    if meta.get("caveat"):
        summary.set_footer("&LSome counts are upper bounds (integration downloads): see the About sheet")
    _chart(w, report.summary, summary, 3 + max(len(report.summary), 1) + 3)
    # what to do about each environment's limits, right after where they stand
    w.table("Advice", advice_table(report.results), widths={"action": 60, "why": 90, "whatif": 60, "note": 60,
                                                            "saves": 28})

    if "migration_preview" in report.results:
        _migration_sheet(w, report)
    if not report.vendor.empty:
        w.table("Celigo vs ours", report.vendor, widths={"why": 120})
    if "changes" in report.results:
        w.table("Changes", report.changes, widths={"detail": 90, "name": 40, "cause": 90})
    if not report.forecast.empty:
        _trend_sheet(w, report)
    w.table("Findings", report.findings, widths={"reason": 80, "title": 40, "mute reason": 30})
    w.table("Rules", report.rules, widths={"description": 60, "remediation": 60})
    w.table("Endpoints", report.endpoints, widths={"why": 60})
    w.table("Flows", report.flows, widths={"reason": 60})
    w.table("Licenses", report.licenses)
    w.table("Load issues", report.load_issues, widths={"problem": 80})
    w.table("Mutes", report.mutes)

    return _about(w, report)


def _migration_sheet(w: _Writer, report: Report) -> None:
    """The migration preview: today -> after per environment and metric, then the assumptions."""
    frame = migration_table(report.results)
    sheet = w.book.add_worksheet("Migration preview")
    w.table("Migration preview", frame, sheet=sheet, widths={"change": 40, "copied into each": 60})
    row = len(frame) + 2
    w.text(sheet, row, 0, "Assumed:", "Migration preview")
    for i, text in enumerate(report.results["migration_preview"]["assumptions"], start=row + 1):
        w.text(sheet, i, 0, text, "Migration preview")


def _reconciliation_sheet(w: _Writer, report: Report) -> None:
    """The reconciliation table, a filter-following total under it, and totals by category,
    status and currency as SUMIFS over the table, so they follow any edit of it."""
    recon = report.reconciliation
    currencies = sorted(set(recon["currency"]) - {"-"}) if not recon.empty else []
    # amounts in several currencies do not add up: then the totals are per currency, below
    sheet = w.table("Reconciliation", recon, totals=("amount", "at stake") if len(currencies) <= 1 else (),
                    widths={"detail": 90, "customer": 28})
    cols = list(recon.columns)
    first, last = 1, max(len(recon), 1)
    ref = {c: xlsxwriter.utility.xl_range_abs(first, cols.index(c), last, cols.index(c))
           for c in ("category", "status", "currency", "amount", "at stake")}
    top = last + 3
    if len(currencies) > 1:
        sheet.write_string(last + 1, 0, f"No single total: the amounts are in {', '.join(currencies)}; "
                                        "the totals per currency are below", w.fmt["total_label"])
        sheet.write_string(top, 0, "Totals per currency (formulas over the table above)", w.fmt["bold"])
        for col, head in enumerate(("currency", "rows", "billed", "at stake")):
            sheet.write_string(top + 1, col, head, w.fmt["header"])
        for i, cur in enumerate(currencies, top + 2):
            mine = recon[recon["currency"] == cur]
            cell = xlsxwriter.utility.xl_rowcol_to_cell(i, 0, col_abs=True)
            w.text(sheet, i, 0, cur, "Reconciliation")
            sheet.write_formula(i, 1, f"=COUNTIFS({ref['currency']},{cell})", w.fmt["int"], len(mine))
            sheet.write_formula(i, 2, f"=SUMIFS({ref['amount']},{ref['currency']},{cell})", w.fmt["money"],
                                float(mine["amount"].sum()))
            sheet.write_formula(i, 3, f"=SUMIFS({ref['at stake']},{ref['currency']},{cell})", w.fmt["money"],
                                float(mine["at stake"].sum()))
        top += len(currencies) + 3
    sheet.write_string(top, 0, "Totals by category, status and currency (formulas over the table above)",
                       w.fmt["bold"])
    totals = report.reconciliation_totals()
    for col, head in enumerate(totals.columns):
        sheet.write_string(top + 1, col, head, w.fmt["header"])
    for i, t in enumerate(totals.itertuples(index=False), top + 2):
        cells = [xlsxwriter.utility.xl_rowcol_to_cell(i, c, col_abs=True) for c in range(3)]
        crit = f"{ref['category']},{cells[0]},{ref['status']},{cells[1]},{ref['currency']},{cells[2]}"
        for c in range(3):  # category and status are ours; the currency comes from the billing file
            w.text(sheet, i, c, str(t[c]), "Reconciliation")
        sheet.write_formula(i, 3, f"=COUNTIFS({crit})", w.fmt["int"], int(t[3]))
        sheet.write_formula(i, 4, f"=SUMIFS({ref['amount']},{crit})", w.fmt["money"], float(t[4]))
        sheet.write_formula(i, 5, f"=SUMIFS({ref['at stake']},{crit})", w.fmt["money"], float(t[5]))


def _sections_book(w: _Writer, report: Report) -> dict:
    """The workbook of a run that audits no account: its own tables first, then the findings."""
    if report.results.get("reconciliation") is not None:
        _reconciliation_sheet(w, report)
    if report.results.get("connector_licenses") is not None:
        w.table("Connector licenses", report.connector_licenses, widths={"email": 28})
    for title, frame in report.extras.items():
        w.table(title, frame, widths={"differs": 40, "description": 30})
    w.table("Findings", report.findings, widths={"reason": 80, "title": 40, "mute reason": 30})
    w.table("Rules", report.rules, widths={"description": 60, "remediation": 60})
    w.table("Load issues", report.load_issues, widths={"problem": 80, "file": 50})
    w.table("Mutes", report.mutes)
    return _about(w, report)


def _about(w: _Writer, report: Report) -> dict:
    meta = report.meta
    about = w.book.add_worksheet("About")
    about.set_column(0, 0, 28)
    about.set_column(1, 1, 90, w.fmt["wrap"])
    # printed: landscape and one page wide, as the other sheets
    about.set_landscape()
    about.fit_to_pages(1, 0)
    rows = [*([("What if", meta["whatif"])] if meta.get("whatif") else []),
            *([("Upper bounds", meta["caveat"])] if meta.get("caveat") else []),
            ("Audit date", date.fromisoformat(meta["as_of"])), ("Policy", meta["policy"]), ("Profile", meta["profile"]),
            ("Results written by", f"auditor {meta['tool_version']} (results schema {meta['schema_version']})"),
            ("Workbook written by", f"auditor {__version__}, from the results of the audit of {meta['as_of']}"),
            ("Rules run", ", ".join(report.rules["rule"]) or "none"),
            ("Input files", f"{len(report.inputs):,} (listed below with their SHA-256)")]
    for cut in w.capped:
        rows.append(("Rows cut", cut))
    for cut in w.cuts:
        rows.append(("Cell cut", cut))
    if not w.cuts and not w.capped:
        rows.append(("Cuts", "none: every value is in full"))
    for row, (key, value) in enumerate(rows):
        about.write_string(row, 0, key, w.fmt["bold"])
        if isinstance(value, date):  # a date cell, as finance sorts and filters them
            about.write_datetime(row, 1, datetime.combine(value, datetime.min.time()), w.fmt["date_left"])
        else:
            w.text(about, row, 1, str(value), "About")
    w.table("Inputs", report.inputs, sheet=about, first_row=len(rows) + 1, widths={"file": 60, "sha256": 68},
            freeze=False)
    cuts = {"cells": list(w.cuts), "sheets": list(w.capped)}
    w.close()
    return cuts
