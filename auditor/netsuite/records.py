"""NetSuite integration records across sandbox and production, and the integrator.io side.

Each NetSuite account keeps an integration record per application that connects to it. The
lists exported from the Manage Integrations page (CSV, XLSX, or JSON) are read through a
mapping, one row per record and account, and compared across a production account and its
sandboxes (`1234567` and `1234567_SB1`, ...): what exists only in a sandbox (a refresh removes
it), what production holds without owning it, what the two disagree about in fields meant to be
common, what was created in a sandbox, and, after a refresh, what is enabled but unused. With a
snapshot, NetSuite connections are checked for an enabled integrator.io record in their account,
and integrator.io records for a connection that uses them.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import orjson
import pandas as pd

from auditor.common.errors import AuditorError, InputError
from auditor.common.vocabulary import DEFAULT_APPLICATION
from auditor.count.endpoints import SANDBOX_SUFFIX, normal_netsuite_account
from auditor.load.sheets import Field, load_mapping, read_table

YES = ("yes", "true", "y", "1", "installed", "x")  # what an "installed" column says for yes

FIELDS = {
    "account": Field("text", required=True), "name": Field("text", required=True),
    "application_id": Field("text", required=True), "description": Field("text"),
    "state": Field("text", required=True, choices=("enabled", "blocked")), "authentication": Field("text"), "owner": Field("text"),
    "installed": Field("text", choices=YES + ("no", "false", "n", "0", "-")), "note": Field("text"), "last_used": Field("date"),
}
COMMON = ("name", "description", "authentication")  # the fields every account's copy shares
COLUMNS = ["account", "base_account", "environment", "name", "application_id", "description", "state", "enabled",
           "authentication", "owner", "owned", "installed_from", "created_in_sandbox", "note", "last_used",
           "in_production", "in_sandbox", "common_differs", "differs", "refreshed_on", "used_since_refresh",
           "integrator", "connections", "connections_known", "file", "row"]


def normalise_account(value) -> str | None:
    """NetSuite account ids as the API writes them (upper case, `_SB<n>` for sandboxes), as the
    endpoint keys read them."""
    if value is None or pd.isna(value) or not str(value).strip():
        return None
    return normal_netsuite_account(str(value))


def _base(account: pd.Series) -> pd.Series:
    return account.str.replace(SANDBOX_SUFFIX, "", regex=True)


def _is_yes(series: pd.Series) -> pd.Series:
    return series.astype("string").str.strip().str.lower().isin(YES)


def read_list(path: Path, mapping_file: Path | None, issues: list[dict]) -> tuple[pd.DataFrame, date | None]:
    """One export of integration records: (rows, the date the list says it was exported)."""
    exported = None
    if path.suffix.lower() == ".json":
        try:
            data = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise InputError(str(path), f"cannot read ({exc.strerror})") from None
        except orjson.JSONDecodeError as exc:
            raise InputError(str(path), f"not valid JSON at line {exc.lineno}, column {exc.colno}") from None
        if isinstance(data, dict):
            exported = data.get("exported")
            data = data.get("records")
        if not isinstance(data, list):
            raise InputError(str(path), "a list of records (or {exported, records}) was expected")
        for n, record in enumerate(data):
            if not isinstance(record, dict):
                issues.append({"account": None, "file": str(path), "record": n, "id": None,
                               "problem": f"record {n}: not an object", "action": "skipped"})
        raw = pd.DataFrame([r for r in data if isinstance(r, dict)], dtype=object)
        table, problems = read_table(path, load_mapping(mapping_file, FIELDS, {f: f for f in FIELDS}), FIELDS, raw=raw)
        for p in problems:  # a JSON list has records (0-based), not spreadsheet rows
            p["problem"] = f"record {p['row'] - 2}: {p['problem']}"
            p["row"] -= 2
    else:
        table, problems = read_table(path, load_mapping(mapping_file, FIELDS, {f: f for f in FIELDS}), FIELDS)
    for p in problems:
        where = p["problem"] if p["problem"].startswith("record ") else f"row {p['row']}: {p['problem']}"
        head, _, why = where.partition(": ")
        issues.append({"account": None, "file": p["file"], "record": p["row"], "id": None,
                       "problem": f"{head}, column {p['column']!r}: {why}", "action": p["action"]})
    try:
        day = date.fromisoformat(str(exported)[:10]) if exported else None
    except ValueError:
        raise InputError(str(path), f"exported: not a date ({exported!r})") from None
    return table, day


def records_frame(sandbox: pd.DataFrame, production: pd.DataFrame, *, refreshed_on: date | None,
                  connections: pd.DataFrame | None, application: str = DEFAULT_APPLICATION) -> pd.DataFrame:
    """The `ns_records` frame: one row per record and account, with what the rules compare."""
    rows = pd.concat([sandbox.assign(_list="sandbox"), production.assign(_list="production")], ignore_index=True)
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows["account"] = rows["account"].map(normalise_account)
    rows["owner"] = rows["owner"].map(normalise_account)
    rows["base_account"] = _base(rows["account"])
    rows["environment"] = rows["account"].str.contains(SANDBOX_SUFFIX, regex=True).map(
        {True: "sandbox", False: "production"})
    rows["state"] = rows["state"].astype("string").str.strip().str.lower().astype(object)
    rows["enabled"] = rows["state"].eq("enabled")
    rows["installed_flag"] = _is_yes(rows["installed"]).fillna(False).astype(bool)
    rows["owned"] = ~rows["installed_flag"] & (rows["owner"].isna() | (rows["owner"] == rows["account"]))
    rows["installed_from"] = rows["owner"].where(~rows["owned"] & (rows["owner"] != rows["account"]))
    rows["created_in_sandbox"] = rows["installed_from"].astype("string").str.contains(SANDBOX_SUFFIX, regex=True,
                                                                                     na=False).astype(bool)
    key = ["base_account", "application_id"]
    present = rows.groupby(key)["environment"].agg(lambda s: set(s))
    envs = rows.set_index(key).index.map(present.to_dict())
    rows["in_production"] = [("production" in e) for e in envs]
    rows["in_sandbox"] = [("sandbox" in e) for e in envs]
    # fields meant to be common: the production copy against each sandbox copy of the same application
    prod = rows[rows["environment"] == "production"].drop_duplicates(key).set_index(key)
    differs = pd.Series("", index=rows.index, dtype=object)
    for field in COMMON:
        theirs = rows.set_index(key).index.map(prod[field].to_dict())
        mine = rows[field].astype("string").fillna("").str.strip().str.lower()
        other = pd.Series(theirs, index=rows.index).astype("string").fillna("").str.strip().str.lower()
        split = rows["in_production"] & (rows["environment"] == "sandbox") & (mine != other)
        differs = differs.mask(split, differs.where(differs == "", differs + ", ") + field)
    # the production row carries what its sandbox copies disagree about
    sandbox_diff = rows[differs != ""].groupby(key).apply(
        lambda g: "; ".join(f"{a}: {d}" for a, d in zip(g["account"], differs[g.index])), include_groups=False)
    prod_rows = rows["environment"] == "production"
    mapped = pd.Series(rows.set_index(key).index.map(sandbox_diff.to_dict()), index=rows.index)
    differs = differs.mask(prod_rows, mapped.where(mapped.notna(), ""))
    rows["differs"] = differs.where(differs != "", None)
    rows["common_differs"] = differs != ""
    rows["refreshed_on"] = pd.Timestamp(refreshed_on) if refreshed_on else pd.NaT
    last = pd.to_datetime(rows["last_used"], errors="coerce")
    rows["last_used"] = last
    rows["used_since_refresh"] = (last >= rows["refreshed_on"]) if refreshed_on else None
    if refreshed_on:
        rows["used_since_refresh"] = rows["used_since_refresh"].fillna(False).astype(bool)
    pattern = re.compile(application)
    rows["integrator"] = [bool(pattern.search(f"{n} {a}")) for n, a in zip(rows["name"], rows["application_id"])]
    if connections is not None and not connections.empty:
        counts = connections.groupby("account").size()
        rows["connections"] = rows["account"].map(counts).fillna(0).astype(int)
        rows["connections_known"] = True
    else:
        rows["connections"] = pd.NA
        rows["connections_known"] = False
    rows["row"] = rows["row"].astype(int)
    for col in ("note", "authentication", "description"):
        rows[col] = rows[col].astype(object).where(rows[col].notna(), None)
    return rows[COLUMNS].sort_values(["base_account", "application_id", "environment", "account"]).reset_index(drop=True)


def links_frame(records: pd.DataFrame, connections: pd.DataFrame) -> pd.DataFrame:
    """The `ns_links` frame: each NetSuite account a connection of the snapshot points to, and
    whether a list of its records was given and holds an enabled integrator.io record."""
    columns = ["account", "netsuite_account", "listed", "integrator_records", "enabled_records", "connections",
               "connection_names"]
    if connections is None or connections.empty:
        return pd.DataFrame(columns=columns)
    listed = set(records["account"])
    mine = records[records["integrator"]]
    total = mine.groupby("account").size()
    enabled = mine[mine["enabled"]].groupby("account").size()
    grouped = connections.groupby(["snapshot_account", "account"])
    out = grouped.agg(connections=("id", lambda s: ", ".join(sorted(s))),
                      connection_names=("name", lambda s: ", ".join(sorted(s.fillna("")))))
    out = out.reset_index().rename(columns={"snapshot_account": "account", "account": "netsuite_account"})
    out["listed"] = out["netsuite_account"].isin(listed)
    out["integrator_records"] = out["netsuite_account"].map(total).fillna(0).astype(int)
    out["enabled_records"] = out["netsuite_account"].map(enabled).fillna(0).astype(int)
    return out[columns].sort_values(["account", "netsuite_account"]).reset_index(drop=True)


def check_lists(sandbox: pd.DataFrame, production: pd.DataFrame, sandbox_path: Path, production_path: Path) -> None:
    """Each list must hold the accounts it claims: no production account in the sandbox list."""
    for frame, path, want in ((sandbox, sandbox_path, True), (production, production_path, False)):
        accounts = frame["account"].map(normalise_account)
        wrong = accounts[accounts.str.contains(SANDBOX_SUFFIX, regex=True) != want]
        if not wrong.empty:
            kind = "sandbox" if want else "production"
            raise AuditorError(f"{path}: row {int(frame.loc[wrong.index[0], 'row'])}: account {wrong.iloc[0]} is not "
                               f"a {kind} account (sandboxes end in _SB<n>); are the lists in the right order?")
