"""Every audit kept in an embedded SQLite database, as tables that can be queried.

One row in `audits` per account and audit date, and under it that audit's environments (counts
against entitlements), endpoints, flows, connections, licenses and findings, and its part of the
results file as written (`documents`: what reports rendered from the history are made from).
Recording an account and date again replaces it; each recording is one transaction, so a crash
leaves the database as it was. The schema is versioned (`PRAGMA user_version`) and migrated
forward when opened.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import zlib
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pandas as pd
import platformdirs

from auditor.common.errors import AuditorError
from auditor.common.vocabulary import USAGE
from auditor.history.diff import ROW_LISTS, own_since, rows_at, subset, with_headline, with_rows
from auditor.load.snapshot import account_key
from auditor.results.io import check
from auditor.results.model import SCHEMA_VERSION

MIGRATIONS = [
    # 1: the first schema
    """
    CREATE TABLE audits (
        id INTEGER PRIMARY KEY, account TEXT NOT NULL, as_of TEXT NOT NULL, recorded_at TEXT NOT NULL,
        tool_version TEXT, policy TEXT, profile TEXT, license_model TEXT, plan TEXT, plan_from TEXT,
        UNIQUE (account, as_of));
    CREATE TABLE environments (
        audit_id INTEGER NOT NULL REFERENCES audits(id) ON DELETE CASCADE, environment TEXT NOT NULL, pool TEXT,
        flows_total INTEGER, flows_enabled INTEGER, flows_billable INTEGER, flows_entitled INTEGER,
        flows_entitled_from TEXT, endpoints_used INTEGER, endpoints_entitled INTEGER, endpoints_entitled_from TEXT,
        trading_partners_used INTEGER, trading_partners_entitled INTEGER, trading_partners_entitled_from TEXT,
        PRIMARY KEY (audit_id, environment));
    CREATE TABLE endpoints (
        audit_id INTEGER NOT NULL REFERENCES audits(id) ON DELETE CASCADE, kind TEXT NOT NULL,
        environment TEXT NOT NULL, key TEXT NOT NULL, application TEXT, category TEXT, resolved INTEGER,
        explain TEXT, connections TEXT, flows TEXT, PRIMARY KEY (audit_id, kind, environment, key));
    CREATE TABLE flows (
        audit_id INTEGER NOT NULL REFERENCES audits(id) ON DELETE CASCADE, environment TEXT NOT NULL,
        id TEXT NOT NULL, name TEXT, enabled INTEGER, billable INTEGER, reason_code TEXT, reason TEXT,
        PRIMARY KEY (audit_id, environment, id));
    CREATE TABLE connections (
        audit_id INTEGER NOT NULL REFERENCES audits(id) ON DELETE CASCADE, environment TEXT NOT NULL,
        id TEXT NOT NULL, name TEXT, type TEXT, application TEXT, role TEXT, key TEXT, explain TEXT,
        enabled_flows INTEGER, PRIMARY KEY (audit_id, environment, id));
    CREATE TABLE licenses (
        audit_id INTEGER NOT NULL REFERENCES audits(id) ON DELETE CASCADE, id TEXT NOT NULL, type TEXT,
        tier TEXT, connector_id TEXT, edition TEXT, expires TEXT, trial_end TEXT, plan INTEGER,
        PRIMARY KEY (audit_id, id));
    CREATE TABLE findings (
        audit_id INTEGER NOT NULL REFERENCES audits(id) ON DELETE CASCADE, finding_id TEXT NOT NULL,
        rule TEXT, title TEXT, severity TEXT, status TEXT, environment TEXT, resource_type TEXT,
        resource_id TEXT, resource_name TEXT, reason TEXT, muted INTEGER, mute_reason TEXT,
        PRIMARY KEY (audit_id, finding_id));
    CREATE INDEX findings_rule ON findings (rule, status);
    """,
    # 2: on-premise agents per environment, and what besides flows reaches each endpoint
    """
    ALTER TABLE environments ADD COLUMN agents_used INTEGER;
    ALTER TABLE environments ADD COLUMN agents_entitled INTEGER;
    ALTER TABLE environments ADD COLUMN agents_entitled_from TEXT;
    ALTER TABLE endpoints ADD COLUMN reached_by TEXT;
    """,
    # 3: each audit's part of its results file as written, so that reports rendered from the
    # history say all that the audit's own did (download caveats, vendor figures, load issues,
    # rules and their counts, mutes, inputs, changes, trend)
    """
    CREATE TABLE documents (
        audit_id INTEGER PRIMARY KEY REFERENCES audits(id) ON DELETE CASCADE, body BLOB NOT NULL);
    """,
]


def _usage_fields(metric: str) -> list[tuple[str, str]]:
    """(name in the results file, column here) of what an environment's usage says of `metric`."""
    return [*USAGE[metric].items(), ("entitled", f"{metric}_entitled"), ("entitled_from", f"{metric}_entitled_from")]


ENV_COLUMNS = ["environment", "pool", *(column for metric in USAGE for _, column in _usage_fields(metric))]


def default_path() -> Path:
    return platformdirs.user_data_path("auditor") / "history.sqlite"


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating it and its folder if need be) and migrate the history database. A history
    this call was creating is removed again when it cannot be made (a full disk): never an empty
    database left behind to be read as a history. One whose tables or columns are not what its
    schema version says is refused as damaged."""
    new = not path.exists()
    con = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
        con.execute("PRAGMA foreign_keys = ON")
        version = con.execute("PRAGMA user_version").fetchone()[0]
    except (OSError, sqlite3.Error) as exc:
        _abandon(con, path, new)
        raise AuditorError(f"{path}: cannot open the history database ({_said(exc)})") from None
    if version > len(MIGRATIONS):
        con.close()
        raise AuditorError(f"{path}: history schema version {version} is newer than this auditor knows "
                           f"({len(MIGRATIONS)}); upgrade auditor")
    for number in range(version + 1, len(MIGRATIONS) + 1):
        try:
            con.execute("BEGIN")
            for statement in _statements(MIGRATIONS[number - 1]):
                con.execute(statement)
            con.execute(f"PRAGMA user_version = {number}")
            con.execute("COMMIT")
        except (OSError, sqlite3.Error) as exc:
            _rollback(con)
            _abandon(con, path, new)
            what = "create the history" if new else f"migrate the history to version {number}"
            raise AuditorError(f"{path}: cannot {what} ({_said(exc)})"
                               + ("; nothing was left behind" if new else "; it is as it was")) from None
    try:
        missing = _missing(con)
    except sqlite3.Error as exc:
        con.close()
        raise AuditorError(f"{path}: the history database cannot be read ({_said(exc)})") from None
    if missing:
        con.close()
        raise AuditorError(f"{path}: the history database is damaged: its schema version is {len(MIGRATIONS)}, but "
                           f"{missing} is missing; move it aside and record the audits again")
    return con


def _said(exc: BaseException) -> str:
    """An OS or SQLite error in words (SQLite's own never quote the data)."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _rollback(con: sqlite3.Connection) -> None:
    """Roll back what is open; a rollback that fails itself (the disk full, the transaction gone)
    leaves the error that caused it to be said."""
    try:
        con.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _abandon(con: sqlite3.Connection | None, path: Path, new: bool) -> None:
    """Close; and a database this run was creating, with its journal, is removed."""
    if con is not None:
        con.close()
    if new:
        for leftover in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal")):
            try:
                leftover.unlink(missing_ok=True)
            except OSError:
                pass


@functools.cache
def _schema() -> dict[str, tuple[str, ...]]:
    """table -> columns, as the migrations make them."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for script in MIGRATIONS:
            for statement in _statements(script):
                con.execute(statement)
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: tuple(r[1] for r in con.execute(f"PRAGMA table_info({t})")) for t in tables}
    finally:
        con.close()


def _missing(con: sqlite3.Connection) -> str | None:
    """The first table or column the schema has that the database lacks, in words."""
    for table, columns in _schema().items():
        have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
        if not have:
            return f"its table {table!r}"
        lacking = [c for c in columns if c not in have]
        if lacking:
            return f"the column {lacking[0]!r} of its table {table!r}"
    return None


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _env_rows(audit_id: int, acct: dict) -> list[tuple]:
    rows = []
    for env in acct["environments"]:
        values = []
        for metric in USAGE:
            # results files written before agents were counted have none
            usage = (env.get(metric) or {}) if metric == "agents" else env[metric]
            values += [usage.get(name) for name, _ in _usage_fields(metric)]
        rows.append((audit_id, env["environment"], env["pool"], *values))
    return rows


def _usage(row: dict) -> dict:
    """An environment as the results file gives it, from its row; audits recorded before agents
    were counted have none."""
    return {"environment": row["environment"], "pool": row["pool"],
            **{metric: {name: row[column] for name, column in _usage_fields(metric)}
               for metric in USAGE if metric != "agents" or row["agents_entitled_from"] is not None}}


def _documents(results: dict) -> dict[str, bytes]:
    """Each account's part of the results file, compressed: as `subset` takes it, but for the
    run's mutes whole, and with the positions its rows held in the run's lists. (Rows are
    grouped by account once: a subset per account read every list once per account.)"""
    positions: dict[tuple, dict[str, list[int]]] = {}
    for path in ROW_LISTS:
        rows = rows_at(results, path)
        if rows is not None:
            by_account = positions[path] = {}
            for i, row in enumerate(rows):
                by_account.setdefault(row["account"], []).append(i)
    out = {}
    for acct in results["accounts"]:
        name = acct["account"]
        part = {**results, "accounts": [acct]}
        for path, by_account in positions.items():
            rows = rows_at(results, path)
            part = with_rows(part, path, [rows[i] for i in by_account.get(name, [])])
        part = own_since(part, name)
        mine = {".".join(path): by_account.get(name, []) for path, by_account in positions.items()}
        # level 1: the history is small beside the tables, and a higher level takes much longer
        # for little gain
        out[name] = zlib.compress(orjson.dumps({"results": part, "positions": mine}), 1)
    return out


# a stored part grows 4 to 9 times when inflated (the sample, gen 250x200); deflate can reach about
# 1,000 times, on nothing but repeats: a zlib bomb
INFLATE_RATIO = 200


def _inflate(body: bytes) -> bytes:
    """A stored part inflated, refused (as damaged) when it would grow past INFLATE_RATIO times
    its size: a history from elsewhere must not fill the memory."""
    inflater = zlib.decompressobj()
    data = inflater.decompress(body, INFLATE_RATIO * len(body))
    if inflater.unconsumed_tail or not inflater.eof:
        raise zlib.error("inflates too far, or is cut short")
    return data


def _from_documents(bodies: list[bytes]) -> dict:
    """The results document of some audits of one date, from their stored parts: accounts in the
    order given, rows in the order they held in their run, mutes and rules once each."""
    parts = [orjson.loads(_inflate(body)) for body in bodies]
    doc = {**parts[0]["results"], "accounts": [a for p in parts for a in p["results"]["accounts"]]}
    for section in ("changes", "trend"):  # present when any of the audits has it
        given = [p["results"][section] for p in parts if section in p["results"]]
        if given:
            doc[section] = given[0]
    for path in ROW_LISTS:
        if rows_at(doc, path) is None:
            continue
        placed = sorted((pos, n, i) for n, p in enumerate(parts)
                        for i, pos in enumerate(p["positions"].get(".".join(path), [])))
        doc = with_rows(doc, path, [rows_at(parts[n]["results"], path)[i] for _, n, i in placed])
    if "changes" in doc:
        since = {a: day for p in parts for a, day in p["results"].get("changes", {}).get("since", {}).items()}
        doc["changes"] = {**doc["changes"], "since": since, **with_headline(doc["changes"])}
    for key, identity in (("mutes", lambda m: orjson.dumps(m)), ("rules", lambda r: r["id"])):
        seen: dict = {}
        for p in parts:
            for item in p["results"].get(key, []):
                seen.setdefault(identity(item), item)
        if key in doc:
            doc[key] = list(seen.values())
    return doc


def record(path: Path, results: dict, *, fail_after: int | None = None) -> list[tuple[str, str]]:
    """Record every account of a results file; one transaction for the whole audit.
    `fail_after` (tests only) raises after that many accounts, to show that nothing is kept."""
    recorded = []
    by_account: dict[str, list[dict]] = {}
    for f in results["findings"]:
        by_account.setdefault(f["account"], []).append(f)
    documents = _documents(results)
    new = not path.exists()
    with closing(connect(path)) as con:
        try:
            con.execute("BEGIN IMMEDIATE")
            _refuse_lookalikes(con, path, [a["account"] for a in results["accounts"]])
            for n, acct in enumerate(results["accounts"]):
                if fail_after is not None and n >= fail_after:
                    raise RuntimeError("simulated crash while recording")
                key = (acct["account"], results["as_of"])
                con.execute("DELETE FROM audits WHERE account = ? AND as_of = ?", key)
                audit_id = con.execute(
                    "INSERT INTO audits (account, as_of, recorded_at, tool_version, policy, profile, license_model,"
                    " plan, plan_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*key, datetime.now(UTC).isoformat(timespec="seconds"), results["tool_version"],
                     results["policy"], results.get("profile"), acct["license_model"], acct["plan"],
                     acct["plan_from"])).lastrowid
                con.executemany(f"INSERT INTO environments (audit_id, {', '.join(ENV_COLUMNS)}) "
                                f"VALUES ({', '.join('?' * (1 + len(ENV_COLUMNS)))})", _env_rows(audit_id, acct))
                con.executemany("INSERT INTO endpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                    (audit_id, kind, e["environment"], e["key"], e["application"], e["category"], e["resolved"],
                     e["explain"], json.dumps(e["connections"]), json.dumps(e["flows"]),
                     json.dumps(e.get("reached_by", [])))
                    for kind, items in (("endpoint", acct["endpoints"]), ("trading partner", acct["trading_partners"]))
                    for e in items])
                con.executemany("INSERT INTO flows VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
                    (audit_id, f["environment"], f["id"], f["name"], f["enabled"], f["billable"], f["reason_code"],
                     f["reason"]) for f in acct["flows"]])
                con.executemany("INSERT INTO connections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                    (audit_id, c["environment"], c["id"], c["name"], c["type"], c["application"], c["role"], c["key"],
                     c["explain"], c["enabled_flows"]) for c in acct["connections"]])
                con.executemany("INSERT INTO licenses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                    (audit_id, x["id"], x["type"], x["tier"], x["connector_id"], x["edition"], x["expires"],
                     x["trial_end"], x["plan"]) for x in acct["licenses"]])
                con.executemany(f"INSERT INTO findings VALUES ({', '.join('?' * 13)})", [
                    (audit_id, f["id"], f["rule"], f["title"], f["severity"], f["status"], f["environment"],
                     f["resource"]["type"], f["resource"]["id"], f["resource"]["name"], f["reason"], f["muted"],
                     f["mute_reason"]) for f in by_account.get(acct["account"], [])])
                con.execute("INSERT INTO documents VALUES (?, ?)", (audit_id, documents[acct["account"]]))
                recorded.append(key)
            con.execute("COMMIT")
        except BaseException as exc:
            _rollback(con)
            if new:  # a history this run was creating holds nothing: not left behind
                _abandon(con, path, new)
            if isinstance(exc, sqlite3.Error | OSError):
                raise AuditorError(f"{path}: cannot record the audit ({_said(exc)}); the history is as it was") from None
            raise
    return recorded


def _refuse_lookalikes(con: sqlite3.Connection, path: Path, accounts: list[str]) -> None:
    """An account whose name looks like one the history holds but is spelt otherwise (in another
    case or Unicode form, with a space at an end or an invisible character) is refused: recorded
    as it is, one account would make two series, each with half the months; recorded under the
    other spelling, the history would hold a name its results file does not."""
    recorded = {account_key(name): name for (name,) in con.execute("SELECT DISTINCT account FROM audits")}
    for account in accounts:
        other = recorded.get(account_key(account))
        if other is not None and other != account:
            raise AuditorError(f"{path}: account {account!r} looks like {other!r}, recorded in this history (they "
                               "differ only in case, Unicode form, spaces or invisible characters); name it as "
                               "recorded in its account.json, or keep it in another history")


def _frame(con: sqlite3.Connection, sql: str, params: tuple = ()) -> pd.DataFrame:
    return pd.read_sql_query(sql, con, params=params)


@contextmanager
def _reading(path: Path):
    """A history that opens but cannot be read as its schema says (a table made otherwise, a page
    damaged) is one line naming it, never a traceback."""
    try:
        yield
    except sqlite3.Error as exc:
        raise AuditorError(f"{path}: the history database is damaged and cannot be read ({_said(exc)}); move it "
                           "aside and record the audits again") from None


COUNT_COLUMNS = ["flows_billable", "flows_entitled", "endpoints_used", "endpoints_entitled", "trading_partners_used",
                 "trading_partners_entitled", "alarms", "audits_in_month"]


def _sound(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Counts read from the tables are whole numbers from 0 (or none) and dates are dates: a
    history whose tables hold text there is refused as damaged, naming the column and the audit."""
    for col in [c for c in COUNT_COLUMNS if c in frame]:
        values = frame[col]
        numbers = pd.to_numeric(values.where(values.map(lambda v: not isinstance(v, str | bytes)), "x"),
                                errors="coerce")
        wrong = values.notna() & (numbers.isna() | (numbers < 0) | (numbers != numbers.round()))
        if wrong.any():
            at = frame[wrong].iloc[0]
            raise AuditorError(f"{path}: the history database is damaged: {col} of account {at['account']!r} as of "
                               f"{at['as_of']} is not a whole number; record that audit again")
    if "as_of" in frame:
        days = pd.to_datetime(frame["as_of"].astype(str), format="%Y-%m-%d", errors="coerce")
        if days.isna().any():
            at = frame[days.isna()].iloc[0]
            raise AuditorError(f"{path}: the history database is damaged: an audit of account {at['account']!r} is "
                               "recorded for a day that is no date; record that audit again")
    return frame


def summary(path: Path, account: str | None = None, env: str | None = None) -> pd.DataFrame:
    """One row per account, environment and month: the last audit of the month, with its counts."""
    with closing(connect(path)) as con, _reading(path):
        frame = _frame(con, """
            SELECT a.account, a.as_of, e.environment, e.flows_billable, e.flows_entitled, e.endpoints_used,
                   e.endpoints_entitled, e.trading_partners_used, e.trading_partners_entitled,
                   (SELECT count(*) FROM findings f WHERE f.audit_id = a.id AND f.status = 'alarm' AND NOT f.muted
                      AND f.environment = e.environment) AS alarms,
                   (SELECT count(*) FROM audits b WHERE b.account = a.account
                      AND substr(b.as_of, 1, 7) = substr(a.as_of, 1, 7)) AS audits_in_month
            FROM audits a JOIN environments e ON e.audit_id = a.id
            WHERE (? IS NULL OR a.account = ?) AND (? IS NULL OR e.environment = ?)
            ORDER BY a.account, e.environment, a.as_of""", (account, account, env, env))
    if frame.empty:
        return frame
    frame = _sound(frame, path)
    frame["month"] = frame["as_of"].str[:7]
    last = frame.groupby(["account", "environment", "month"])["as_of"].transform("max") == frame["as_of"]
    return frame[last].reset_index(drop=True)


def places(path: Path) -> list[tuple[str, str]]:
    """Every (account, environment) recorded."""
    with closing(connect(path)) as con, _reading(path):
        return con.execute("SELECT DISTINCT a.account, e.environment FROM audits a "
                           "JOIN environments e ON e.audit_id = a.id ORDER BY 1, 2").fetchall()


def dates(path: Path, account: str | None = None) -> pd.DataFrame:
    with closing(connect(path)) as con, _reading(path):
        return _sound(_frame(con, "SELECT account, as_of FROM audits WHERE (? IS NULL OR account = ?) "
                                  "ORDER BY account, as_of", (account, account)), path)


def _grouped(con: sqlite3.Connection, table: str, columns: str, ids: list[int]) -> dict[int, list[dict]]:
    """Rows of a child table for these audits, as dicts, grouped by audit in recording order."""
    out: dict[int, list[dict]] = {i: [] for i in ids}
    con.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (id INTEGER PRIMARY KEY)")
    con.execute("DELETE FROM wanted")
    con.executemany("INSERT INTO wanted VALUES (?)", [(i,) for i in ids])
    cursor = con.execute(f"SELECT audit_id, {columns} FROM {table} WHERE audit_id IN (SELECT id FROM wanted) "
                         "ORDER BY audit_id, rowid")
    names = [d[0] for d in cursor.description][1:]
    for row in cursor:
        out[row[0]].append(dict(zip(names, row[1:])))
    return out


def load(path: Path, as_of: str, account: str | None = None) -> dict:
    """A results-shaped document of what was recorded for `as_of` (one account, or all of that
    day): the results file's parts as written; for audits recorded before those were kept, rebuilt
    from the tables (counts, endpoints, flows, connections, licenses and findings only)."""
    with closing(connect(path)) as con, _reading(path):
        con.row_factory = sqlite3.Row
        audits = [dict(r) for r in con.execute(
            "SELECT * FROM audits WHERE as_of = ? AND (? IS NULL OR account = ?) ORDER BY account",
            (as_of, account, account))]
        con.row_factory = None
        if not audits:
            who = f"account {account!r}" if account else "any account"
            recorded = [r[0] for r in con.execute(
                "SELECT DISTINCT as_of FROM audits WHERE (? IS NULL OR account = ?) ORDER BY 1", (account, account))]
            said = f"recorded: {', '.join(recorded)}" if recorded else "none recorded"
            raise AuditorError(f"{path}: no audit of {who} recorded for {as_of} ({said})")
        ids = [a["id"] for a in audits]
        docs = _grouped(con, "documents", "body", ids)
        kept = [docs[i][0]["body"] for i in ids if docs[i]]
        try:
            doc = _from_documents(kept) if kept else None
        except (zlib.error, orjson.JSONDecodeError, KeyError, TypeError, IndexError, AttributeError):
            raise AuditorError(f"{path}: the results recorded for {as_of} are damaged and cannot be read; "
                               "record those audits again") from None
        older = [a for a in audits if not docs[a["id"]]]
        if older:  # recorded before the results were kept: rebuilt, and said so
            try:
                rebuilt = _rebuilt(con, older, as_of)
            except (ValueError, TypeError) as exc:  # a list stored as no JSON, or NULL; a count as text
                raise AuditorError(f"{path}: the audits recorded for {as_of} are damaged and cannot be read "
                                   f"({exc}); record those audits again") from None
            doc = rebuilt if doc is None else {
                **doc, "accounts": sorted(doc["accounts"] + rebuilt["accounts"], key=lambda a: a["account"]),
                "findings": doc["findings"] + rebuilt["findings"],
                "load_issues": sorted(doc["load_issues"] + rebuilt["load_issues"], key=lambda i: i["account"] or "")}
    # audits recorded before their lists were all kept cannot be held to agree with them
    return check(subset(doc, account) if account else doc, f"{path}, the audits recorded for {as_of}",
                 lists=not older)


def _rebuilt(con: sqlite3.Connection, audits: list[dict], as_of: str) -> dict:
    """The results document of audits recorded before their results were kept, from the tables."""
    ids = [a["id"] for a in audits]
    envs = _grouped(con, "environments", ", ".join(ENV_COLUMNS), ids)
    eps = _grouped(con, "endpoints", "kind, environment, key, application, category, resolved, explain, "
                                     "connections, flows, reached_by", ids)
    flows = _grouped(con, "flows", "environment, id, name, enabled, billable, reason_code, reason", ids)
    conns = _grouped(con, "connections", "environment, id, name, type, application, role, key, explain, "
                                         "enabled_flows", ids)
    lics = _grouped(con, "licenses", "id, type, tier, connector_id, edition, expires, trial_end, plan", ids)
    finds = _grouped(con, "findings", "finding_id, rule, title, severity, status, environment, resource_type, "
                                      "resource_id, resource_name, reason, muted, mute_reason", ids)
    accounts, findings = [], []
    for a in audits:
        aid = a["id"]
        acct = {
            "account": a["account"], "license_model": a["license_model"], "plan": a["plan"],
            "plan_from": a["plan_from"],
            "environments": [_usage(e) for e in envs[aid]],
            "endpoints": [], "trading_partners": [],
            "flows": [{**f, "enabled": bool(f["enabled"]), "billable": bool(f["billable"])} for f in flows[aid]],
            "connections": conns[aid],
            "licenses": [{**x, "plan": bool(x["plan"])} for x in lics[aid]],
        }
        for e in eps[aid]:
            target = acct["endpoints"] if e["kind"] == "endpoint" else acct["trading_partners"]
            target.append({"environment": e["environment"], "key": e["key"], "application": e["application"],
                           "category": e["category"], "resolved": bool(e["resolved"]), "explain": e["explain"],
                           "connections": _listed(e, "connections"), "flows": _listed(e, "flows"),
                           "reached_by": _listed(e, "reached_by", "[]")})
        accounts.append(acct)
        findings += [{"id": f["finding_id"], "rule": f["rule"], "title": f["title"], "severity": f["severity"],
                      "status": f["status"], "account": a["account"], "environment": f["environment"],
                      "resource": {"type": f["resource_type"], "id": f["resource_id"], "name": f["resource_name"]},
                      "reason": f["reason"], "muted": bool(f["muted"]), "mute_reason": f["mute_reason"]}
                     for f in finds[aid]]
    first = audits[0]
    lacking = [{"account": a["account"], "file": None, "record": None, "id": None, "action": "not read",
                "problem": "recorded by an auditor whose history kept counts, endpoints, flows, connections, licenses "
                           "and findings only: this audit's load issues, rules, mutes, inputs, the vendor's figures and "
                           "whether its counts are upper bounds were not kept"} for a in audits]
    return {"schema_version": SCHEMA_VERSION, "tool_version": first["tool_version"], "as_of": as_of, "policy": first["policy"],
            "profile": first["profile"], "accounts": accounts, "findings": findings, "rule_counts": [],
            "mutes": [], "load_issues": lacking}


def _listed(row: dict, column: str, default: str | None = None) -> list:
    """A list the endpoints table keeps as JSON text; anything else (NULL, text that is no JSON, a
    JSON value that is no list of strings) is damage, said by its column."""
    text = row[column] if row[column] is not None else default
    try:
        value = json.loads(text) if isinstance(text, str | bytes) else None
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"endpoints.{column} of an endpoint is not a JSON list of names")
    return value


def previous(path: Path, account: str, before: str) -> str | None:
    """The latest audit date recorded for `account` before `before`."""
    with closing(connect(path)) as con, _reading(path):
        _refuse_lookalikes(con, path, [account])
        row = con.execute("SELECT max(as_of) FROM audits WHERE account = ? AND as_of < ?", (account, before)).fetchone()
    return row[0]


def series(path: Path, accounts: list[str]) -> pd.DataFrame:
    """Counts of every recorded audit of these accounts, per environment, oldest first."""
    if not accounts:
        return pd.DataFrame()
    with closing(connect(path)) as con, _reading(path):
        marks = ", ".join("?" * len(accounts))
        return _sound(_frame(con, f"""
            SELECT a.account, a.as_of, e.environment, e.flows_billable, e.flows_entitled, e.endpoints_used,
                   e.endpoints_entitled
            FROM audits a JOIN environments e ON e.audit_id = a.id
            WHERE a.account IN ({marks}) ORDER BY a.account, e.environment, a.as_of""", tuple(accounts)), path)
