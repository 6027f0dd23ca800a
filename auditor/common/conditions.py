"""Conditions and text templates over DataFrame columns, evaluated a column at a time.

One small language serves endpoint policies (which connections a key rule applies to) and rule
packs (which rows alarm). A condition is one of:

    {and: [cond, ...]}   {or: [cond, ...]}   {not: cond}
    {column: value}             equality (a list of values means `in`)
    {column: {op: value, ...}}  every operator must hold

Operators: eq ne gt ge lt le in not-in regex present absent older-than within.
`older-than: N` holds for dates more than N days before the audit date; `within: N` for dates
from the audit date to N days after it. A value written "$name" is the parameter `name`
("$as_of" is the audit date). A missing value (null) satisfies only `absent` and `ne`.
"""

from __future__ import annotations

import string
import warnings
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: validating a rule needs no pandas
    import pandas as pd

OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le", "in", "not-in", "regex", "present", "absent", "older-than", "within")


class ConditionError(ValueError):
    """A condition that cannot be evaluated: the message says where and why."""


def columns_of(cond: Any) -> set[str]:
    """Every column a condition reads (to check them against a frame before evaluating)."""
    if not isinstance(cond, dict):
        raise ConditionError(f"a condition must be a mapping, not {type(cond).__name__}")
    found: set[str] = set()
    for key, value in cond.items():
        if key in ("and", "or"):
            if not isinstance(value, list):
                raise ConditionError(f"'{key}' takes a list of conditions")
            for part in value:
                found |= columns_of(part)
        elif key == "not":
            found |= columns_of(value)
        else:
            if isinstance(value, dict):
                unknown = set(value) - set(OPERATORS)
                if unknown:
                    raise ConditionError(f"unknown operator {sorted(unknown)[0]!r} on column {key!r}")
            found.add(key)
    return found


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        name = value[1:]
        if name not in params:
            raise ConditionError(f"unknown parameter {value!r}")
        return params[name]
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


def _as_time(value: Any) -> pd.Timestamp:
    import pandas as pd
    stamp = pd.Timestamp(value)
    return stamp.tz_localize(None) if stamp.tzinfo else stamp


def _compare(series: pd.Series, op: str, value: Any, params: dict[str, Any]) -> pd.Series:
    import pandas as pd
    present = series.notna()
    if op == "present":
        return present if value else ~present
    if op == "absent":
        return ~present if value else present
    is_time = pd.api.types.is_datetime64_any_dtype(series)
    if op in ("older-than", "within"):
        if not is_time:
            raise ConditionError(f"'{op}' needs a date column, and {series.name!r} is not one")
        as_of = _as_time(params["as_of"])
        days = (series - as_of).dt.days
        held = (days < -float(value)) if op == "older-than" else ((days >= 0) & (days <= float(value)))
        return held.fillna(False).astype(bool)
    if is_time and op in ("eq", "ne", "gt", "ge", "lt", "le"):
        value = _as_time(value)
    if op == "eq":
        held = series == value
    elif op == "ne":
        return ~(series == value).fillna(False).astype(bool)
    elif op == "gt":
        held = series > value
    elif op == "ge":
        held = series >= value
    elif op == "lt":
        held = series < value
    elif op == "le":
        held = series <= value
    elif op in ("in", "not-in"):
        values = value if isinstance(value, list) else [value]
        held = series.isin(values)
        if op == "not-in":
            return present & ~held
    elif op == "regex":
        with warnings.catch_warnings():  # groups in a user's pattern only group: pandas warns of them
            warnings.filterwarnings("ignore", "This pattern is interpreted as a regular expression", UserWarning)
            held = series.astype("string").str.contains(str(value), regex=True, na=False)
    else:  # pragma: no cover - columns_of() rejects unknown operators first
        raise ConditionError(f"unknown operator {op!r}")
    return (present & held.fillna(False)).astype(bool)


def evaluate(cond: dict, frame: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.Series:
    """A boolean Series, True where `cond` holds for the row."""
    import pandas as pd
    params = params or {}
    result = pd.Series(True, index=frame.index)
    for key, value in cond.items():
        if key == "and":
            part = pd.Series(True, index=frame.index)
            for sub in value:
                part &= evaluate(sub, frame, params)
        elif key == "or":
            part = pd.Series(False, index=frame.index)
            for sub in value:
                part |= evaluate(sub, frame, params)
        elif key == "not":
            part = ~evaluate(value, frame, params)
        else:
            if key not in frame.columns:
                raise ConditionError(f"unknown column {key!r}")
            series = frame[key]
            ops = value if isinstance(value, dict) else ({"in": value} if isinstance(value, list) else {"eq": value})
            part = pd.Series(True, index=frame.index)
            for op, operand in ops.items():
                part &= _compare(series, op, _resolve(operand, params), params)
        result &= part
    return result


# --- the same conditions as DuckDB SQL ----------------------------------------------------------
#
# A rule's condition is evaluated where its table is: as one SQL expression over the columns it
# reads. Each leaf is written so that it holds exactly where `_compare` holds (a missing value,
# a value of another type than the column's, NaN: the SQL says what pandas says; a test compares
# the two over every operator and kind of column). A leaf DuckDB cannot say exactly (a regular
# expression, whose dialect is pandas', a column of mixed or all-missing values, an operand of
# another type than its column's) is `_compare` itself, its answer handed to the SQL as a column.

_NS_PER_DAY = 86_400_000_000_000


def sql_kind(series: pd.Series) -> str | None:
    """How DuckDB holds a column exactly: text, number, bool or time; None where it cannot (mixed
    values, nothing but missing values, NaN beside missing values, time with a zone)."""
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    if types.is_bool_dtype(dtype):
        return "bool"
    if types.is_numeric_dtype(dtype):
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) and types.is_float_dtype(dtype):
            # a masked float column can hold NaN beside NA: pandas tells them apart, SQL would not
            import numpy as np
            data = series.array
            if bool(np.isnan(data._data[~data._mask]).any()):
                return None
        return "number"
    if types.is_datetime64_dtype(dtype) and not isinstance(dtype, pd.DatetimeTZDtype):
        return "time"
    if isinstance(dtype, pd.StringDtype):
        return "text"
    if dtype == object:
        inferred = types.infer_dtype(series, skipna=True)
        return {"string": "text", "boolean": "bool"}.get(inferred)
    return None


def _arrow(series: pd.Series, kind: str):
    """The column as DuckDB reads it: missing values (None, NaN, NaT, NA) are NULL."""
    import pyarrow as pa
    if kind == "time":
        return pa.array(series.to_numpy(dtype="datetime64[ns]"), type=pa.timestamp("ns"), from_pandas=True)
    kinds = {"text": pa.string(), "bool": pa.bool_()}
    if kind == "number":
        if series.dtype == object:  # pragma: no cover - sql_kind() gives None for those
            raise TypeError("an object column is not a number column")
        return pa.array(series, from_pandas=True)
    return pa.array(series.astype(object) if kind == "bool" and series.dtype == object else series,
                    type=kinds[kind], from_pandas=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # not NaN


_PLAIN = {"text": lambda v: isinstance(v, str), "number": _is_number, "bool": lambda v: isinstance(v, bool)}
_SQL_OPS = {"eq": "=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}


class SqlCondition:
    """Conditions as SQL boolean expressions over one frame: `table()` is what they read (the
    columns they name, and the leaves worked out by `_compare`), `expr` the last one written and
    `binds` the values of them all. Several conditions (each with its parameters) can be written
    over one table, to be evaluated in one query."""

    def __init__(self, frame: pd.DataFrame, params: dict[str, Any] | None = None):
        self.frame, self.params = frame, params or {}
        self.expr = "TRUE"
        self.given_leaves = 0  # leaves pandas worked out (over the whole frame)
        self.binds: list[Any] = []
        self.columns: dict[str, Any] = {}  # name in the SQL -> Arrow array
        self._named: dict[str, str] = {}  # frame column -> name in the SQL
        self._kinds: dict[str, str | None] = {}

    def kind(self, column: str) -> str | None:
        if column not in self._kinds:
            self._kinds[column] = sql_kind(self.frame[column])
        return self._kinds[column]

    def column(self, column: str) -> str:
        if column not in self._named:
            name = self._named[column] = f"c{len(self.columns)}"
            self.columns[name] = _arrow(self.frame[column], self.kind(column))
        return self._named[column]

    def given(self, held: pd.Series) -> str:
        """A leaf already worked out (a boolean Series over the frame), read as a column."""
        import pyarrow as pa
        name = f"c{len(self.columns)}"
        self.columns[name] = pa.array(held.to_numpy(dtype=bool), type=pa.bool_())
        self.given_leaves += 1
        return name

    def bind(self, value: Any) -> str:
        self.binds.append(value)
        return f"${len(self.binds)}"

    def table(self):
        import pyarrow as pa
        if not self.columns:  # a query needs a column to have rows
            self.columns["c0"] = pa.nulls(len(self.frame), type=pa.bool_())
        return pa.table(self.columns)

    # -- generation: the same walk, in the same order, as evaluate() -----------------------------

    def condition(self, cond: dict) -> str:
        parts = []
        for key, value in cond.items():
            if key == "and":
                parts.append("(" + " AND ".join(["TRUE", *(self.condition(sub) for sub in value)]) + ")")
            elif key == "or":
                parts.append("(" + " OR ".join(["FALSE", *(self.condition(sub) for sub in value)]) + ")")
            elif key == "not":
                parts.append(f"(NOT {self.condition(value)})")
            else:
                if key not in self.frame.columns:
                    raise ConditionError(f"unknown column {key!r}")
                ops = value if isinstance(value, dict) else ({"in": value} if isinstance(value, list) else {"eq": value})
                parts += [self.leaf(key, op, _resolve(operand, self.params)) for op, operand in ops.items()]
        return "(" + " AND ".join(["TRUE", *parts]) + ")"

    def leaf(self, column: str, op: str, value: Any) -> str:
        kind = self.kind(column)
        sql = None if kind is None else self._leaf(column, kind, op, value)
        if sql is None:  # said by pandas, exactly as before
            sql = self.given(_compare(self.frame[column], op, value, self.params))
        return sql

    def _leaf(self, column: str, kind: str, op: str, value: Any) -> str | None:
        if op in ("present", "absent"):
            null = (op == "present") != bool(value)
            return f"({self.column(column)} IS {'' if null else 'NOT '}NULL)"
        if op in ("older-than", "within"):
            if kind != "time":
                raise ConditionError(f"'{op}' needs a date column, and {column!r} is not one")
            limit = float(value)  # what _compare does with it, and its error if it is no number
            if limit != limit:  # NaN: DuckDB orders it above every number, pandas compares nothing to it
                return None
            c = self.column(column)
            # whole days from the audit date, rounded down as a timedelta's days are
            diff = f"(epoch_ns({c}) - {self.bind(_as_time(self.params['as_of']).value)})"
            days = f"(({diff} - ((({diff} % {_NS_PER_DAY}) + {_NS_PER_DAY}) % {_NS_PER_DAY})) // {_NS_PER_DAY})"
            held = f"{days} < {self.bind(-limit)}" if op == "older-than" else \
                f"{days} >= 0 AND {days} <= {self.bind(limit)}"
            return f"coalesce({held}, FALSE)"
        if op in ("in", "not-in"):
            values = value if isinstance(value, list) else [value]
            if kind == "time" or not all(_PLAIN[kind](v) for v in values):
                return None
            c = self.column(column)
            held = f"coalesce({c} IN ({', '.join(self.bind(v) for v in values)}), FALSE)" if values else "FALSE"
            return f"({c} IS NOT NULL AND {'NOT ' if op == 'not-in' else ''}{held})"
        if op in ("eq", "ne", "gt", "ge", "lt", "le"):
            if kind == "time":
                if isinstance(value, list):
                    return None
                stamp = _as_time(value)
                if stamp != stamp:  # NaT: pandas' comparisons with it are its own
                    return None
                c, operand = f"epoch_ns({self.column(column)})", self.bind(stamp.value)
            elif _PLAIN[kind](value):
                c, operand = self.column(column), self.bind(value)
            else:
                return None
            if op == "ne":
                return f"(NOT coalesce({c} = {operand}, FALSE))"
            return f"coalesce({c} {_SQL_OPS[op]} {operand}, FALSE)"
        return None  # regex: the pattern is read in pandas' dialect


def to_sql(cond: dict, frame: pd.DataFrame, params: dict[str, Any] | None = None,
           into: SqlCondition | None = None) -> SqlCondition:
    """`cond` as SQL over `frame` (see SqlCondition), written `into` one already begun if given;
    errors as `evaluate` raises them."""
    sql = into or SqlCondition(frame)
    sql.params = params or {}
    sql.expr = sql.condition(cond)
    return sql


_FORMATTER = string.Formatter()


def template_fields(template: str) -> list[str]:
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name]


def _format_value(value: Any, spec: str) -> str:
    import pandas as pd
    if value is None or pd.isna(value):
        return "unknown"
    if isinstance(value, pd.Timestamp | date):
        return value.strftime("%Y-%m-%d")
    if spec.startswith("@"):  # {days_left:@day}: "1 day", "16 days"
        number = int(value) if isinstance(value, float) and value.is_integer() else value
        return f"{number} {spec[1:]}{'' if number == 1 else 's'}"
    if isinstance(value, float) and value.is_integer() and not spec:
        return str(int(value))
    return format(value, spec)


def render(template: str, frame: pd.DataFrame) -> pd.Series:
    """Fill `{column}` (or `{column:spec}`) fields of `template` from each row: one string each."""
    import pandas as pd
    pieces: list[list[str] | str] = []
    for literal, name, spec, _ in _FORMATTER.parse(template):
        if literal:
            pieces.append(literal)
        if name:
            if name not in frame.columns:
                raise ConditionError(f"template field {{{name}}} is not a column")
            col = frame[name].astype(object)
            # each distinct value formatted once (the first of values equal to each other)
            formatted: dict[Any, str] = {}
            column = []
            for value, known in zip(col.tolist(), col.notna().tolist()):
                if not known:
                    column.append("unknown")
                    continue
                text = formatted.get(value)
                if text is None:
                    text = formatted[value] = _format_value(value, spec or "")
                column.append(text)
            pieces.append(column)
    if not pieces:
        return pd.Series("", index=frame.index, dtype=object)
    rows = zip(*(p if isinstance(p, list) else [p] * len(frame) for p in pieces))
    return pd.Series(["".join(row) for row in rows], index=frame.index, dtype=object)


def fill_keys(template: str, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Render an endpoint-key template; the second Series is False where a field is missing."""
    import pandas as pd
    complete = pd.Series(True, index=frame.index)
    for name in template_fields(template):
        if name not in frame.columns:
            raise ConditionError(f"template field {{{name}}} is not a column")
        complete &= frame[name].notna() & (frame[name].astype("string") != "")
    return render(template, frame), complete

