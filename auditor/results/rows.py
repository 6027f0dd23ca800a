"""Rows of the results file made from typed tables, checked against the model per column.

The model (`auditor.results.model`) is the one statement of what each field holds. A document's
rows are made here from pandas frames or DuckDB relations, and each column is checked against its
field's type as a whole (one vectorised test a column, not pydantic a row: at partner scale the
lists are millions of rows): a whole number must come from an integer column, or a float column
whose values are all whole (then it is written as integers, never `5.0`); a field that cannot be
missing has no missing value; a count is not negative. A column that fails is a bug of the tool:
`UnsoundDocument` is raised and nothing is written.
"""

from __future__ import annotations

import types
import typing
from functools import cache

import annotated_types
import duckdb
import numpy as np
import pandas as pd
from pydantic import BaseModel

from auditor.common.errors import UnsoundDocument


class Rows(list):
    """Rows already checked per column: the writer's model check does not check them again."""


@cache
def kinds(model: type[BaseModel]) -> dict[str, tuple[str, bool, bool, bool]]:
    """Per field (by its name in the file): its kind (int, float, bool, str, list, object),
    whether it may be missing, whether it is a count (not negative), whether the file must have it."""
    out = {}
    for name, field in model.model_fields.items():
        ann, nullable, count = field.annotation, False, any(isinstance(m, annotated_types.Ge) for m in field.metadata)
        if typing.get_origin(ann) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            nullable, ann = len(args) < len(typing.get_args(ann)), args[0]
        if typing.get_origin(ann) is typing.Annotated:
            ann, *meta = typing.get_args(ann)
            count = count or any(isinstance(m, annotated_types.Ge) for m in meta)
        origin = typing.get_origin(ann)
        kind = ({int: "int", float: "float", bool: "bool", str: "str"}.get(ann)
                or ("str" if origin is typing.Literal else "list" if origin is list else "object"))
        out[field.alias or name] = (kind, nullable, count, field.is_required())
    return out


def _fail(where: str, field: str, problem: str):
    raise UnsoundDocument(f"{where}.{field}: {problem}")


def column(series: pd.Series, kind: str, nullable: bool, count: bool, where: str, field: str) -> list:
    """The column's values as the file holds them (Python ints, floats, bools, strings, None),
    after checking them against the field's type as a whole."""
    missing = series.isna() if kind != "list" else series.map(lambda v: v is None)
    if not nullable and missing.any():
        _fail(where, field, f"missing in {int(missing.sum())} rows where a value is required")
    present = series[~missing]
    if present.empty:  # nothing to check: every value is missing (a float column of NaN, say)
        return [None] * len(series) if kind != "list" else series.tolist()
    if kind == "int":
        inferred = pd.api.types.infer_dtype(present, skipna=True)
        if inferred in ("floating", "mixed-integer-float", "decimal"):
            values = pd.to_numeric(present, errors="coerce").astype(float)
            if not (np.isfinite(values.to_numpy()).all() and (values == values.round()).all()):
                _fail(where, field, "a number that is not whole where a whole number belongs")
        elif inferred not in ("integer", "empty"):
            _fail(where, field, f"{inferred} values where whole numbers belong")
        series = pd.to_numeric(series, errors="coerce").astype("Int64")
        if count and (series < 0).any():
            _fail(where, field, "a negative count")
    elif kind == "float":
        if pd.api.types.infer_dtype(present, skipna=True) not in ("floating", "integer", "mixed-integer-float",
                                                                   "decimal", "empty"):
            _fail(where, field, "values that are not numbers")
        series = pd.to_numeric(series, errors="coerce").astype("Float64")
    elif kind in ("bool", "str"):
        inferred = pd.api.types.infer_dtype(present, skipna=True)
        if inferred not in ({"bool": "boolean", "str": "string"}[kind], "empty"):
            _fail(where, field, f"{inferred} values where {'true/false' if kind == 'bool' else 'text'} belongs")
    if kind == "list":
        return series.tolist()
    return series.astype(object).where(~missing, None).tolist()


def frame_rows(frame: pd.DataFrame, model: type[BaseModel], columns: dict[str, str] | None = None,
               where: str | None = None) -> Rows:
    """The frame's rows as the model's objects (plain dicts, fields in the model's order), each
    column checked; `columns` maps a field to the frame's column of another name, `where` names
    the list in errors."""
    where = where or model.__name__
    spec = kinds(model)
    columns = columns or {}
    values = {}
    for name, (kind, nullable, count, required) in spec.items():
        col = columns.get(name, name)
        if col in frame.columns:
            values[name] = column(frame[col], kind, nullable, count, where, name)
        elif required:
            _fail(where, name, f"no column {col!r} to write it from")
    return Rows(dict(zip(values, row)) for row in zip(*values.values()))


# DuckDB's types for each kind of field
_DUCK = {"int": ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT"),
         "float": ("FLOAT", "DOUBLE", "DECIMAL"), "bool": ("BOOLEAN",), "str": ("VARCHAR",), "list": ("VARCHAR[]",)}


def check_relation(con: duckdb.DuckDBPyConnection, relation: str, model: type[BaseModel], fields: dict[str, str],
                   where: str) -> None:
    """A DuckDB table or registered frame that rows of `model` are serialised from, checked per
    column: each field's column has the field's type (`fields` maps a field to its column), no
    missing value where one is required, no negative count."""
    spec = kinds(model)
    types_ = dict(zip(*[con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchnumpy()[c].tolist()
                        for c in ("column_name", "column_type")]))
    tests = []
    for name, col in fields.items():
        kind, nullable, count, _ = spec[name]
        have = types_.get(col)
        # a frame's column of None alone (or of no rows) has no type: its values are tested below
        if have is None or have != '"NULL"' and not have.startswith(_DUCK.get(kind, (have,))):
            _fail(where, name, f"column {col!r} is {have}, where {kind} belongs")
        if not nullable:
            tests.append((name, "a value missing where one is required", f'count(*) FILTER (WHERE "{col}" IS NULL)'))
        if count:
            tests.append((name, "a negative count", f'count(*) FILTER (WHERE "{col}" < 0)'))
    if tests:
        found = con.execute(f"SELECT {', '.join(t for _, _, t in tests)} FROM {relation}").fetchone()
        for (name, problem, _), n in zip(tests, found):
            if n:
                _fail(where, name, f"{problem} ({n} rows)")


def table(rows: list[dict], rename: dict[str, str], model: type[BaseModel]) -> pd.DataFrame:
    """Rows of the results file as a report's table: the fields in `rename` (field -> column
    title), the model's whole numbers as nullable integer columns (a missing value would make
    pandas' column float, and a report or CSV show `5.0`)."""
    frame = pd.DataFrame(rows, columns=list(rename))
    spec = kinds(model)
    for name in rename:
        if spec[name][0] == "int":
            frame[name] = pd.to_numeric(frame[name]).astype("Int64")
    return frame.rename(columns=rename)
