"""Rule conditions are evaluated by DuckDB, as SQL generated from them (`conditions.to_sql`): the
SQL must hold exactly where the column-at-a-time pandas evaluation (`conditions.evaluate`, which
endpoint policies still use) holds, or fail as it fails. Compared here over every operator, every
kind of column a frame has (text, numbers with and without missing values, NaN, booleans, dates,
lists, mixed and all-missing object columns) and operands of every type YAML gives."""

from __future__ import annotations

import math
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd
import pytest

from auditor.common.conditions import OPERATORS, ConditionError, evaluate, sql_kind, to_sql
from auditor.rules.evaluate import holds

AS_OF = date(2026, 3, 15)


def frame() -> pd.DataFrame:
    n = 8
    return pd.DataFrame({
        "text": pd.Series(["a", "b", None, "", "ab", "B", "é", "a"], dtype="str"),
        "text_obj": pd.Series(["a", None, "b", float("nan"), "ab", "10", "a", "zz"], dtype=object),
        "int": pd.Series([0, 1, 2, 3, -1, 10, 1, 5], dtype="int64"),
        "int32": pd.Series([0, 1, 2, 3, -1, 10, 1, 5], dtype="int32"),
        "Int64": pd.Series([0, 1, None, 3, -1, 10, None, 5], dtype="Int64"),
        "float": pd.Series([0.0, 1.5, float("nan"), 3.0, -1.0, math.inf, 1.0, 2.5]),
        "Float64": pd.Series([0.0, 1.5, None, 3.0, -1.0, math.inf, 1.0, None], dtype="Float64"),
        "bool": pd.Series([True, False, True, False, True, True, False, False]),
        "boolean": pd.Series([True, False, None, False, True, None, False, True], dtype="boolean"),
        "bool_obj": pd.Series([True, None, False, True, None, False, True, True], dtype=object),
        "time": pd.to_datetime(pd.Series(["2026-03-15", "2026-03-14 23:59:59", None, "2026-04-14", "2026-04-15",
                                          "2025-03-15", "2026-03-16 00:00:01", "2026-03-20"]), format="ISO8601"),
        "time_s": pd.Series(pd.to_datetime(["2026-03-15", "2026-01-01", None, "2026-04-14", "2026-04-15",
                                            "2025-03-15", "2026-03-16", "2026-03-20"])).astype("datetime64[s]"),
        "none": pd.Series([None] * n, dtype=object),
        "mixed": pd.Series(["a", 1, None, True, 2.5, "b", date(2026, 1, 1), "1"], dtype=object),
        "lists": pd.Series([["a"], [], None, ["a", "b"], ["c"], [], ["a"], None], dtype=object),
    })


VALUES = ["a", "b", "", "10", 0, 1, 2, 2.5, -1, True, False, None, math.inf, float("nan"),
          date(2026, 3, 15), datetime(2026, 3, 14, 12), "2026-03-15", ["a", "b"], [1, 2], [], [True], ["a", 1],
          [date(2026, 3, 15)], 30, 0.5, "30", "x["]


def outcome(fn):
    try:
        return "ok", list(np.asarray(fn(), dtype=bool))
    except ConditionError as exc:
        return "ConditionError", str(exc)
    except Exception as exc:  # noqa: BLE001 - the kind of failure is what is compared
        return "error", type(exc).__name__


def agree(cond: dict, data: pd.DataFrame, params: dict, con) -> None:
    want = outcome(lambda: evaluate(cond, data, params))
    got = outcome(lambda: holds(cond, data, params, con))
    assert got == want, f"{cond}: SQL {got} but pandas {want}"


@pytest.fixture(scope="module")
def con():
    with duckdb.connect() as con:
        yield con


@pytest.mark.parametrize("column", list(frame().columns))
def test_every_operator_and_operand_agrees_with_pandas(column, con):
    data = frame()
    params = {"as_of": AS_OF}
    for op in OPERATORS:
        for value in VALUES:
            agree({column: {op: value}}, data, params, con)
    agree({column: "a"}, data, params, con)
    agree({column: ["a", 1]}, data, params, con)


def test_combinations_parameters_and_empty_frames_agree(con):
    data = frame()
    params = {"as_of": AS_OF, "days": 30, "names": ["a", "b"], "limit": 2}
    conds = [
        {}, {"and": []}, {"or": []},
        {"and": [{"int": {"gt": "$limit"}}, {"text": "$names"}]},
        {"or": [{"time": {"within": "$days"}}, {"not": {"Int64": {"present": True}}}]},
        {"not": {"or": [{"text": {"regex": "^a"}}, {"bool": True}]}},
        {"int": {"ge": 1, "le": 5}, "text_obj": {"not-in": ["a"]}},
        {"float": {"ne": 1.0}, "Float64": {"lt": "$limit"}},
        {"time_s": {"older-than": 0}, "boolean": {"ne": True}},
        {"text": {"gt": "$missing"}},  # an unknown parameter
        {"nosuch": 1},  # an unknown column
        {"int": {"older-than": 3}},  # not a date column
        {"time": {"within": "soon"}},  # not a number of days
        {"text": {"gt": 1}},  # text against a number
        {"time": {"gt": "not a date"}},
    ]
    for cond in conds:
        agree(cond, data, params, con)
        agree(cond, data.iloc[0:0], params, con)
        agree(cond, data.iloc[[2, 5, 7]], params, con)


def test_columns_are_read_as_the_kind_duckdb_can_hold_exactly():
    data = frame()
    kinds = {c: sql_kind(data[c]) for c in data}
    assert kinds == {"text": "text", "text_obj": "text", "int": "number", "int32": "number", "Int64": "number",
                     "float": "number", "Float64": "number", "bool": "bool", "boolean": "bool", "bool_obj": "bool",
                     "time": "time", "time_s": "time", "none": None, "mixed": None, "lists": None}
    # NaN beside a missing value in a masked float column: pandas tells them apart, SQL would not
    odd = pd.Series(pd.arrays.FloatingArray(np.array([1.0, 0.0, np.nan]), np.array([False, True, False])))
    assert sql_kind(odd) is None
    agree({"x": {"present": True}}, pd.DataFrame({"x": odd}), {"as_of": AS_OF}, duckdb.connect())


def test_the_sql_reads_only_the_columns_it_needs_and_binds_every_value():
    data = frame()
    sql = to_sql({"text": {"eq": "a' OR 1=1 --"}, "int": {"in": [1, 2]}}, data, {"as_of": AS_OF})
    assert "a' OR" not in sql.expr  # values are parameters, never SQL text
    assert sql.binds == ["a' OR 1=1 --", 1, 2]
    assert sql.table().num_columns == 2
    # a regular expression is read in pandas' dialect, handed to the SQL as its answer
    assert to_sql({"text": {"regex": "(?i)^A"}}, data, {"as_of": AS_OF}).binds == []
    assert holds({"text": {"regex": "(?i)^A"}}, data, {"as_of": AS_OF}).tolist() == \
        evaluate({"text": {"regex": "(?i)^A"}}, data, {"as_of": AS_OF}).tolist()


# --- the rules of a frame in one query ---------------------------------------------------------

def _rule(**fields):
    from auditor.rules.model import Rule
    base = {"id": "r", "title": "t", "severity": "low", "description": "d", "remediation": "r", "frame": "flows",
            "reason": "flow {id}"}
    return Rule.model_validate({**base, **fields})


def test_a_rule_answered_in_the_frames_query_gets_the_statuses_it_gets_alone():
    from auditor.common.paths import data_dir
    from auditor.rules.evaluate import answers, statuses
    from auditor.rules.fixtures import _rows, fixture_frame
    from auditor.rules.model import load_rules

    folder = data_dir("rules") / "tests"
    batched = 0
    for rule in load_rules():
        rows = [row for name in ("pass.yaml", "alarm.yaml", "skip.yaml") if (folder / rule.id / name).is_file()
                for row in _rows(folder / rule.id / name, rule)]
        data = fixture_frame(rows, rule)
        with duckdb.connect() as con:
            answered = answers([rule], data, AS_OF, con).get(rule.id)
            alone = statuses(rule, data, AS_OF, con)[1]
            if answered is not None:
                batched += 1
                assert statuses(rule, data, AS_OF, con, answered)[1].equals(alone), rule.id
    assert batched >= 30  # all but the Python checks' rules


def test_a_condition_that_fails_outside_the_scope_only_is_evaluated_over_the_scope():
    from auditor.rules.evaluate import answers, evaluate_rules
    data = pd.DataFrame({"account": "a", "environment": "production", "id": ["f1", "f2"], "enabled": [True, False],
                         "name": pd.Series(["x", 5], dtype=object)})
    rule = _rule(scope={"enabled": True}, where={"name": {"gt": "a"}})
    with duckdb.connect() as con:
        assert answers([rule], data, AS_OF, con) == {}  # a leaf pandas works out: not in the frame's query
    findings, counts = evaluate_rules([rule], {"flows": data}, AS_OF)
    assert list(findings["status"]) == ["alarm"] and list(findings["resource_id"]) == ["f1"]
    # over the whole frame the same condition fails, as it always did: one error finding
    findings, _ = evaluate_rules([_rule(where={"name": {"gt": "a"}})], {"flows": data}, AS_OF)
    assert list(findings["status"]) == ["error"]
    assert list(findings["reason"]) == ["rule r could not be evaluated: TypeError"]


def test_rules_of_one_frame_share_a_query_each_with_its_own_parameters():
    from auditor.rules.evaluate import evaluate_rules
    data = pd.DataFrame({"account": "a", "environment": "production", "id": ["f1", "f2", "f3"],
                         "name": ["short", "a longer name", "x"], "enabled": [True, True, False]})
    rules = [_rule(id="one", parameters={"n": "x"}, where={"name": "$n"}),
             _rule(id="two", parameters={"n": "short"}, where={"name": "$n"}, scope={"enabled": True}),
             _rule(id="three", where={"name": {"regex": "^a "}}, requires=["enabled"])]
    findings, counts = evaluate_rules(rules, {"flows": data}, AS_OF)
    got = sorted(zip(findings["rule"], findings["resource_id"], findings["status"]))
    assert got == [("one", "f3", "alarm"), ("three", "f2", "alarm"), ("two", "f1", "alarm")]
    assert counts.set_index("rule")[["ok", "alarm", "skip"]].loc["two"].tolist() == [1, 1, 0]
