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
    out = pd.Series("", index=frame.index, dtype=object)
    for literal, name, spec, _ in _FORMATTER.parse(template):
        out = out + literal
        if name:
            if name not in frame.columns:
                raise ConditionError(f"template field {{{name}}} is not a column")
            col = frame[name].astype(object)
            # format each distinct value once, then map the column through the table
            formatted = {v: _format_value(v, spec or "") for v in col.dropna().unique()}
            out = out + col.map(formatted).astype(object).where(col.notna(), "unknown")
    return out


def fill_keys(template: str, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Render an endpoint-key template; the second Series is False where a field is missing."""
    import pandas as pd
    complete = pd.Series(True, index=frame.index)
    for name in template_fields(template):
        if name not in frame.columns:
            raise ConditionError(f"template field {{{name}}} is not a column")
        complete &= frame[name].notna() & (frame[name].astype("string") != "")
    return render(template, frame), complete

