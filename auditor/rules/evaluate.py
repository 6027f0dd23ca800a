"""Rules evaluated over the audit's frames, a whole column at a time.

Each rule applies to one frame and gives every row in its scope a status: `skip` where a
column it `requires` is unknown, `alarm` where its condition (`where`, and its Python `check`
if it names one) holds, `ok` otherwise, `error` for every account when the rule itself fails.
Alarm, skip and error rows become findings with a full-sentence reason; ok rows are only
counted (listed only when asked for all rows), so the findings grow with what is wrong, not
with the size of the account.

A rule's `scope`, `requires` and `where` are evaluated by DuckDB, as SQL generated from the
conditions (`auditor.common.conditions.to_sql`), over the columns they read; its Python check,
its reasons and the findings work on the frame's rows in its scope.
"""

from __future__ import annotations

import hashlib
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from auditor.common.conditions import ConditionError, SqlCondition, render, template_fields, to_sql
from auditor.common.vocabulary import SEVERITIES_DOWN, STATUS_ORDER
from auditor.rules.checks import run_check
from auditor.rules.model import FINDING_COLUMNS, FRAMES, ROW_KEYS, Rule


def finding_id(rule: pd.Series | str, account: pd.Series, environment: pd.Series,
               rtype: pd.Series, rid: pd.Series, *parts: pd.Series) -> pd.Series:
    """Stable id: the same rule, account, environment and resource (and, for a frame that can hold
    several rows of one resource, the same row key: `parts`) give the same id each month."""
    fields = [pd.Series(rule, index=account.index).astype(str), account.astype(str), environment.fillna("").astype(str),
              rtype.astype(str), rid.astype(str), *(part.fillna("").astype(str) for part in parts)]
    try:
        keys = ["\x1f".join(values) for values in zip(*(f.tolist() for f in fields))]
    except TypeError:  # a value with no text (a missing one): the id fails as the rule's error
        keys = fields[0]
        for f in fields[1:]:
            keys = keys + "\x1f" + f
        return keys.map(lambda k: hashlib.sha256(k.encode()).hexdigest()[:16])
    return pd.Series([hashlib.sha256(k.encode()).hexdigest()[:16] for k in keys], index=account.index, dtype=object)


OK_REASON = "the rule's condition does not hold"


def _query(con: duckdb.DuckDBPyConnection, sql, select: list[str]) -> list[np.ndarray]:
    """Each of `select` (SQL over `sql`'s table) for every row of the frame, in its order."""
    con.register("rule_rows", sql.table())
    try:
        got = con.execute(f"SELECT {', '.join(select)} FROM rule_rows", sql.binds).fetchnumpy()
    finally:
        con.unregister("rule_rows")
    return [np.asarray(got[name], dtype=bool) for name in got]


def holds(cond: dict, frame: pd.DataFrame, params: dict, con: duckdb.DuckDBPyConnection | None = None) -> np.ndarray:
    """Where `cond` holds, a boolean for each row of `frame`: DuckDB's answer to its SQL."""
    sql = to_sql(cond, frame, params)
    return _query(con or duckdb.connect(), sql, [f"{sql.expr} AS held"])[0]


def _unknown(rule: Rule, frame: pd.DataFrame, sql: SqlCondition) -> str:
    """SQL: a column the rule requires is unknown."""
    return "(" + " OR ".join(["FALSE", *(f"{sql.column(col)} IS NULL" if sql.kind(col) else sql.given(frame[col].isna())
                                         for col in rule.requires)]) + ")"


def _skip_and_alarm(rule: Rule, frame: pd.DataFrame, params: dict,
                    con: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray]:
    """Where a required column is unknown, and where the rule's condition holds."""
    sql = to_sql(rule.where, frame, params)
    skip, held = _query(con, sql, [f"{_unknown(rule, frame, sql)} AS skip", f"{sql.expr} AS held"])
    return skip, ~skip & held


Answers = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]


def answers(rules: list[Rule], frame: pd.DataFrame, as_of: date, con: duckdb.DuckDBPyConnection) -> Answers:
    """The rules of one frame in one query: for each rule id, where the rule is in scope, where it
    skips and where it alarms, over every row. A rule is left to `statuses` alone (which evaluates
    it over its scope only, as a rule always was) where that could differ: it has a Python check,
    its condition needs a leaf pandas works out (over the whole frame it could fail on rows
    outside the scope), or the condition cannot be written (the error is raised in its turn)."""
    sql, select, ids = SqlCondition(frame), [], []
    for rule in rules:
        if rule.check:
            continue
        params, binds = {**rule.parameters, "as_of": as_of}, len(sql.binds)
        try:
            scope = to_sql(rule.scope, frame, params, into=sql).expr
            skip = _unknown(rule, frame, sql)
            given = sql.given_leaves
            where = to_sql(rule.where, frame, params, into=sql).expr
        except Exception:  # noqa: BLE001 - evaluated alone, where it fails as it always did
            given = -1
        if given != sql.given_leaves:
            del sql.binds[binds:]
            continue
        select += [f"{scope} AS s{len(ids)}", f"{skip} AS k{len(ids)}", f"{where} AS w{len(ids)}"]
        ids.append(rule.id)
    if not ids:
        return {}
    try:
        got = _query(con, sql, select)
    except Exception:  # noqa: BLE001 - each rule is then evaluated alone, and fails alone (an error finding)
        return {}
    return {rid: (got[3 * n], got[3 * n + 1], ~got[3 * n + 1] & got[3 * n + 2]) for n, rid in enumerate(ids)}


def statuses(rule: Rule, frame: pd.DataFrame, as_of: date, con: duckdb.DuckDBPyConnection | None = None,
             answered: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The rows in the rule's scope (with any columns its check adds) and the status of each;
    `answered`: the rule's answers from `answers`, over the whole frame."""
    params = {**rule.parameters, "as_of": as_of}
    con = con or duckdb.connect()
    if answered is not None:
        scope, skip, alarm = answered
        if rule.scope:
            frame, skip, alarm = frame[scope], skip[scope], alarm[scope]
        if frame.empty:
            return frame, pd.Series(dtype=object)
        return frame, pd.Series("ok", index=frame.index).mask(alarm, "alarm").mask(skip, "skip")
    if rule.scope:
        frame = frame[holds(rule.scope, frame, params, con)]
    if frame.empty:
        return frame, pd.Series(dtype=object)
    if rule.check:
        frame = run_check(rule.check, frame, params)
    skip, alarm = _skip_and_alarm(rule, frame, params, con)
    if rule.check:
        alarm &= frame.pop("_check").to_numpy(dtype=bool)
    return frame, pd.Series("ok", index=frame.index).mask(alarm, "alarm").mask(skip, "skip")


def evaluate_rule(rule: Rule, frame: pd.DataFrame, as_of: date, all_rows: bool = False,
              con: duckdb.DuckDBPyConnection | None = None,
              answered: tuple | None = None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(findings, status counts) of one rule over its frame; ok rows are findings only with `all_rows`."""
    frame, status = statuses(rule, frame, as_of, con, answered)
    if frame.empty:
        return None, None
    env = frame["environment"] if "environment" in frame else pd.Series(None, index=frame.index, dtype=object)
    counts = pd.DataFrame({"rule": rule.id, "account": frame["account"], "environment": env, "status": status})
    rows = frame if all_rows else frame[status != "ok"]
    if rows.empty:
        return None, counts
    rtype, rid, rname = FRAMES[rule.frame]
    types = rows[rtype[1:]] if rtype.startswith("@") else pd.Series(rtype, index=rows.index)
    reasons = pd.Series(None, index=rows.index, dtype=object)
    for name, template in (("alarm", rule.reason), ("skip", rule.skip_reason or rule.reason),
                           ("ok", rule.ok_reason or OK_REASON)):
        chosen = status[rows.index] == name
        if chosen.any():
            reasons[chosen] = render(template, rows[chosen].assign(**{
                k: v for k, v in rule.parameters.items() if k not in rows and k in template_fields(template)}))
    envs = env[rows.index]
    return pd.DataFrame({
        "id": finding_id(rule.id, rows["account"], envs, types, rows[rid],
                         *(rows[c] for c in ROW_KEYS.get(rule.frame, ()))),
        "rule": rule.id, "title": rule.title, "severity": rule.severity, "status": status[rows.index],
        "account": rows["account"], "environment": envs, "resource_type": types,
        "resource_id": rows[rid].astype(str), "resource_name": rows[rname], "reason": reasons,
        "muted": False, "mute_reason": None,
    }), counts


def _failed(rule: Rule, frame: pd.DataFrame, exc: Exception) -> pd.DataFrame:
    """One `error` finding per account for a rule that could not be evaluated. Only our own
    ConditionError messages are shown: another exception's text could quote data."""
    why = str(exc) if isinstance(exc, ConditionError) else type(exc).__name__
    accounts = sorted(frame["account"].dropna().unique()) if "account" in frame else []
    accounts = accounts or ["(all)"]
    acc = pd.Series(accounts)
    return pd.DataFrame({
        "id": finding_id(rule.id, acc, pd.Series([None] * len(acc)), pd.Series(["rule"] * len(acc)),
                         pd.Series([rule.id] * len(acc))),
        "rule": rule.id, "title": rule.title, "severity": rule.severity, "status": "error", "account": acc,
        "environment": None, "resource_type": "rule", "resource_id": rule.id, "resource_name": rule.title,
        "reason": f"rule {rule.id} could not be evaluated: {why}", "muted": False, "mute_reason": None,
    })


def evaluate_rules(rules: list[Rule], frames: dict[str, pd.DataFrame], as_of: date,
                   all_rows: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(findings, counts): findings for alarm, skip and error rows (and ok rows with `all_rows`);
    counts of each status per rule, account and environment. A rule that fails gives `error`
    findings; the others still run."""
    findings, counts = [], []
    con = duckdb.connect()
    answered: Answers = {}
    for name in dict.fromkeys(r.frame for r in rules if r.frame in frames):
        answered |= answers([r for r in rules if r.frame == name], frames[name], as_of, con)
    for rule in rules:
        if rule.frame not in frames:  # a rule of another kind of run (account or partner)
            continue
        try:
            found, counted = evaluate_rule(rule, frames[rule.frame], as_of, all_rows, con, answered.get(rule.id))
        except Exception as exc:  # noqa: BLE001 - any failure of one rule must not stop the others
            found, counted = _failed(rule, frames[rule.frame], exc), None
        if found is not None:
            findings.append(found)
        if counted is not None:
            counts.append(counted)
    con.close()
    found = pd.concat(findings, ignore_index=True) if findings else pd.DataFrame(columns=FINDING_COLUMNS)
    order = {s: i for i, s in enumerate(SEVERITIES_DOWN)}
    found = found.assign(_sev=found["severity"].map(order), _st=found["status"].map(STATUS_ORDER)).sort_values(
        ["_sev", "rule", "_st", "account", "environment", "resource_type", "resource_id"], na_position="first"
    ).drop(columns=["_sev", "_st"]).reset_index(drop=True)
    if counts:
        tally = pd.concat(counts).groupby(["rule", "account", "environment", "status"], dropna=False).size()
        tally = tally.unstack("status", fill_value=0).reindex(columns=["ok", "alarm", "skip"], fill_value=0).reset_index()
    else:
        tally = pd.DataFrame(columns=["rule", "account", "environment", "ok", "alarm", "skip"])
    return found, tally
