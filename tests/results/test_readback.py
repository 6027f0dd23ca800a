"""Whatever the tool writes, its readers read back: every whole-number field of every document
is typed once, in the results model, and the writer checks each document against it.

The class: a whole number written as a float (`5.0`) where the readers, strictly, want an
integer. It came from pandas (a column of whole numbers with one missing value is a float
column) in the trend, the forecast, load-issue positions and the partner sections. These tests
hold the class, not its cases: every whole-number field of the model, in every kind of document
the tool writes, is refused as a float by the readers, and never written as one.
"""

from __future__ import annotations

import copy
import json

import orjson
import pandas as pd
import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.common.errors import AuditorError, UnsoundDocument
from auditor.results import io as results_io
from auditor.results import model as m
from auditor.results.rows import Rows, frame_rows, kinds

MONTHS = ["2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31"]


def invoke(*argv) -> None:
    run = CliRunner().invoke(cli, [str(a) for a in argv], catch_exceptions=False)
    assert run.exit_code in (0, 1), (argv, run.stderr)


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, dict]:
    """One document of every kind the tool writes: the sample's fourth monthly audit (changes and
    trend included; Initech's unknown endpoint entitlement is what made the floats), the
    partner's licenses with billing, NetSuite records with a snapshot."""
    folder = tmp_path_factory.mktemp("docs")
    store = folder / "h.sqlite"
    for day in MONTHS:
        invoke("audit", "--sample", "--as-of", day, "--record", "--history", store, "--fail-on", "never",
               "-o", folder / f"{day}.json")
    invoke("licenses", "--sample", "--fail-on", "never", "-o", folder / "licenses.json")
    invoke("ns-records", "--sample", "--fail-on", "never", "-o", folder / "ns.json")
    docs = {name: json.loads((folder / f"{file}.json").read_text())
            for name, file in (("audit", MONTHS[-1]), ("licenses", "licenses"), ("ns-records", "ns"))}
    docs["folder"] = folder
    return docs


def whole_number_places(doc, model=m.Results, path=()):
    """Every place in `doc` that the model says holds a whole number: (path, is a count)."""
    spec = kinds(model)
    for name, field in model.model_fields.items():
        key = field.alias or name
        value = doc.get(key) if isinstance(doc, dict) else None
        if value is None:
            continue
        kind, _, count, _ = spec[key]
        if kind == "int":
            yield (*path, key), count
            continue
        inner = _model_of(field.annotation)
        if inner is None:
            continue
        if isinstance(value, list):
            for i, row in enumerate(value[:2]):  # the first rows of each list: enough to find every field
                yield from whole_number_places(row, inner, (*path, key, i))
        elif isinstance(value, dict):
            yield from whole_number_places(value, inner, (*path, key))


def _model_of(annotation):
    import typing
    for arg in (annotation, *typing.get_args(annotation)):
        for inner in (arg, *typing.get_args(arg)):
            if isinstance(inner, type) and issubclass(inner, m.BaseModel):
                return inner
    return None


def put(doc, path, value):
    doc = copy.deepcopy(doc)
    at = doc
    for part in path[:-1]:
        at = at[part]
    at[path[-1]] = value
    return doc


@pytest.mark.parametrize("kind", ["audit", "licenses", "ns-records"])
def test_every_whole_number_field_is_refused_as_a_float_by_readers_and_the_writer(documents, kind, tmp_path):
    """For each whole-number field present in the document: 5.0 is refused by the reader (strict)
    and by the writer (nothing written); a count of -1 is refused too; the document as written is
    read back."""
    doc = documents[kind]
    results_io.check(doc, kind)
    places = list(whole_number_places(doc))
    assert len(places) >= {"audit": 25, "licenses": 10, "ns-records": 3}[kind], places
    for path, count in places:
        at = doc
        for part in path:
            at = at[part]
        assert type(at) is int, path
        for bad in ([float(at)] + ([-1] if count else [])):
            wrong = put(doc, path, bad)
            with pytest.raises(AuditorError, match="not a sound results file"):
                results_io.check(wrong, kind)
            out = tmp_path / "out.json"
            with pytest.raises(UnsoundDocument):
                results_io.write(wrong, out)
            assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def test_the_documents_hold_the_sections_that_made_floats(documents):
    audit = documents["audit"]
    assert audit["trend"]["points"] and audit["trend"]["forecast"] and audit["changes"] is not None
    assert any(p["endpoints_entitled"] is None for p in audit["trend"]["points"])  # Initech: unknown
    assert documents["licenses"]["reconciliation"] and documents["ns-records"]["ns_links"]


def test_four_monthly_audits_are_read_back_by_every_command_by_file_and_by_date(documents, tmp_path):
    """The month-four failure: each month's results file, and each recorded date, is read by
    report, flows, endpoints and diff; the fourth audit itself succeeds."""
    folder = documents["folder"]
    store = folder / "h.sqlite"
    for i, day in enumerate(MONTHS):
        for source in (folder / f"{day}.json", day):
            history = ["--history", store] if source == day else []
            invoke("report", source, *history, tmp_path / "r.html")
            invoke("diff", folder / f"{MONTHS[0]}.json" if i else source, source, *history)
        invoke("flows", folder / f"{day}.json")
        invoke("endpoints", folder / f"{day}.json")
    points = documents["audit"]["trend"]["points"]
    assert all(type(p[k]) is int for p in points for k in ("flows_billable", "endpoints_used"))


# --- the writer's per-column check ---------------------------------------------------------------

def test_a_float_column_of_whole_numbers_is_written_as_integers():
    frame = pd.DataFrame({"account": ["a", "b"], "environment": ["p", "p"], "month": ["2026-01", "2026-01"],
                          "as_of": ["2026-01-31"] * 2, "flows_billable": [3.0, 4.0], "flows_entitled": [5.0, None],
                          "endpoints_used": [1, 2], "endpoints_entitled": [None, None]})
    rows = frame_rows(frame, m.TrendPoint)
    assert isinstance(rows, Rows)
    assert [r["flows_entitled"] for r in rows] == [5, None]
    assert [type(r["flows_billable"]) for r in rows] == [int, int]
    assert orjson.dumps(rows).count(b".0") == 0


@pytest.mark.parametrize("column, values, problem", [
    ("flows_billable", [2.5, 1.0], "not whole"),
    ("flows_billable", [-1, 2], "negative"),
    ("flows_billable", [1, None], "missing"),
    ("flows_billable", ["3", "4"], "string"),
    ("flows_billable", [True, False], "boolean"),
    ("flows_entitled", [float("inf"), 1.0], "not whole"),
    ("account", [1, 2], "integer values where text"),
])
def test_a_column_that_is_not_what_the_model_says_is_never_written(column, values, problem):
    frame = pd.DataFrame({"account": ["a", "b"], "environment": ["p", "p"], "month": ["2026-01"] * 2,
                          "as_of": ["2026-01-31"] * 2, "flows_billable": [1, 2], "flows_entitled": [5, 5],
                          "endpoints_used": [1, 2], "endpoints_entitled": [5, 5]})
    frame[column] = pd.Series(values, dtype=object if isinstance(values[0], str) else None)
    with pytest.raises(UnsoundDocument, match=problem):
        frame_rows(frame, m.TrendPoint, where="trend.points")


def test_the_duckdb_lists_are_checked_per_column():
    import duckdb

    from auditor.results.serialise import json_lists
    fields = {k: k for k in m.FlowResult.model_fields}
    with duckdb.connect() as con:
        con.execute("CREATE TABLE f AS SELECT 0 AS account_no, 'production' AS environment, 'f1' AS id, "
                    "NULL::VARCHAR AS name, true AS enabled, 1.0 AS billable, 'x' AS reason_code, 'y' AS reason")
        with pytest.raises(UnsoundDocument, match="flows.billable"):
            json_lists(con, "f", m.FlowResult, fields, "id", 1, where="flows")
        con.execute("UPDATE f SET billable = 1")  # still a DECIMAL column: the type is what is checked
        with pytest.raises(UnsoundDocument):
            json_lists(con, "f", m.FlowResult, fields, "id", 1, where="flows")
        con.execute("CREATE TABLE g AS SELECT * REPLACE (true AS billable, NULL::VARCHAR AS reason) FROM f")
        with pytest.raises(UnsoundDocument, match="flows.reason: a value missing"):
            json_lists(con, "g", m.FlowResult, fields, "id", 1, where="flows")


# --- what a reader refuses besides types ----------------------------------------------------------

def test_counts_that_disagree_with_their_own_lists_are_refused(documents):
    doc = documents["audit"]
    a = next(i for i, x in enumerate(doc["accounts"]) if x["flows"])
    env = doc["accounts"][a]["environments"][0]["environment"]
    for metric, key in (("flows", "total"), ("flows", "billable"), ("flows", "enabled"), ("endpoints", "used"),
                        ("trading_partners", "used")):
        e = doc["accounts"][a]["environments"][0][metric]
        wrong = put(doc, ("accounts", a, "environments", 0, metric, key), e[key] + 1)
        with pytest.raises(AuditorError, match=f"environment '{env}': {metric}.{key} is"):
            results_io.check(wrong, "x.json")
    stray = put(doc, ("accounts", a, "flows", 0, "environment"), "nowhere")
    with pytest.raises(AuditorError, match="rows of environment 'nowhere'"):
        results_io.check(stray, "x.json")


def test_an_account_twice_is_refused(documents):
    doc = copy.deepcopy(documents["audit"])
    doc["accounts"].append(doc["accounts"][0])
    with pytest.raises(AuditorError, match="in it twice"):
        results_io.check(doc, "x.json")


def test_a_refused_document_is_one_line_and_exit_3_from_the_cli(tmp_path, monkeypatch):
    """A writer bug is an internal error, named by field, and nothing is written."""
    import auditor.history.trend as trend

    real = trend.trend_section

    def floats(series):
        section = real(series)
        if section:
            section["points"] = [{**p, "endpoints_used": float(p["endpoints_used"])} for p in section["points"]]
        return section

    store = tmp_path / "h.sqlite"
    for day in MONTHS[:2]:
        invoke("audit", "--sample", "--as-of", day, "--record", "--history", store, "--fail-on", "never",
               "-o", tmp_path / f"{day}.json")
    monkeypatch.setattr(trend, "trend_section", floats)
    monkeypatch.setattr("auditor.history.sections.trend_section", floats)
    run = CliRunner().invoke(cli, ["audit", "--sample", "--as-of", MONTHS[2], "--history", str(store),
                                   "--fail-on", "never", "-o", str(tmp_path / "third.json")])
    assert run.exit_code == 3
    assert "trend.points[0].endpoints_used: Input should be a valid integer" in run.stderr
    assert "nothing was written" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "third.json").exists()


FLOAT_COLUMNS = {"pace a month", "flows share", "endpoints share", "amount", "at stake", "billed"}


def test_no_csv_shows_a_whole_number_as_a_float(documents, tmp_path):
    """trend.csv and forecast.csv showed finance 5.0 and 10.0: every CSV of every kind of run
    writes whole numbers as integers; only amounts, shares and paces are decimals."""
    import csv
    import re
    folder = documents["folder"]
    for source in (folder / f"{MONTHS[-1]}.json", folder / "licenses.json", folder / "ns.json"):
        out = tmp_path / source.stem
        invoke("report", source, "--csv", out)
        files = list(out.glob("*.csv"))
        assert files
        for f in files:
            for row in csv.DictReader(f.open(encoding="utf-8-sig")):
                for column, value in row.items():
                    if column not in FLOAT_COLUMNS:
                        assert not re.fullmatch(r"-?\d+\.0+", value or ""), (f.name, column, value)
    assert (tmp_path / MONTHS[-1] / "trend.csv").read_text().count("\n") > 5


def test_reading_a_history_that_is_not_there_creates_none(tmp_path):
    """--history without --record reads the history: a name with nothing there yet is left so,
    never an empty database (an interrupted run left one)."""
    store = tmp_path / "new.sqlite"
    invoke("audit", "--sample", "--history", store, "--fail-on", "never", "-o", tmp_path / "r.json")
    assert not store.exists()
    invoke("audit", "--sample", "--history", store, "--record", "--fail-on", "never", "-o", tmp_path / "r.json")
    assert store.exists()
