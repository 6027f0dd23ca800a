"""'auditor whatif': the audit as if flows were disabled or enabled and connections deleted or merged.

The edits are made to the tables the snapshots are loaded into (auditor.load.tables), after they
are read and before anything is counted (`run(..., edits=...)`); nothing else of the audit
changes, so the results are those of auditing a copy of the snapshots edited by hand that way
(tests/test_whatif.py checks exactly that):

- disable-flow / enable-flow: the flow's `disabled` is set (true / false);
- delete-connection: the connection is removed; the steps that used it reach a connection the
  snapshot does not hold, counted as the audit counts such a one (an endpoint of its own);
- merge-connections K,A,B: every export and import of A and B, and everything else naming a
  connection (an instance flow's overrides, a sync's source and destination, an AI agent's or
  guardrail's MCP connection), is repointed to K, and A and B are removed.

An id is looked up in every account and environment audited (or only those named by --account and
--env); an id found in none, or in more than one, is refused naming where to look. The results
file says which edits were made, and where, in its `whatif` section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import orjson
import pandas as pd

from auditor.common.errors import AuditorError
from auditor.common.vocabulary import USED
from auditor.count.advice import merge_ids
from auditor.count.policy import load_policy
from auditor.load.snapshot import Snapshot
from auditor.results.frames import Audit
from auditor.rules.model import Rule
from auditor.runs.account import AccountRun, run

KINDS = ("disable-flow", "enable-flow", "delete-connection", "merge-connections")
SHOWN_IDS = 10  # valid ids an error names, then "and N more"
# an environment as the counting tells it: a legacy account's resources by their sandbox flag
ENV_SQL = "CASE WHEN scope = '*' THEN CASE WHEN sandbox THEN 'sandbox' ELSE 'production' END ELSE scope END"
# JSON fields that name connections, besides exports' and imports' _connectionId (auditor.count.flows)
JSON_FIELDS = (("flows", "overrides"), ("flows", "overridesHelper"), ("syncs", "source"),
               ("syncs", "destination"), ("imports", "aiAgent"), ("imports", "guardrail"))
CONNECTION_KEYS = ("_connectionId", "_mcpConnectionId")  # a connection's id, wherever they are
OVERRIDE_KEYS = ("_id", "_abstractId")  # in an entry of overrides.connections[] (and its helper's)


@dataclass(frozen=True)
class Edit:
    kind: str  # one of KINDS
    ids: tuple[str, ...]  # merge-connections: the connection kept first

    @property
    def option(self) -> str:
        return f"--{self.kind}"

    @property
    def table(self) -> str:
        return "flows" if self.kind.endswith("flow") else "connections"


def edits_from(disable=(), enable=(), delete=(), merge=()) -> list[Edit]:
    """The edits the command line asks for, checked to be consistent (a flow both disabled and
    enabled, a connection both deleted and merged, is refused: the outcome would depend on an order)."""
    edits = ([Edit("disable-flow", (i,)) for i in disable] + [Edit("enable-flow", (i,)) for i in enable]
             + [Edit("delete-connection", (i,)) for i in delete])
    for group in merge:
        ids = merge_ids(group)
        if len(ids) < 2 or any(i == "" for i in ids):
            raise AuditorError(f"--merge-connections {group!r}: name two or more connection ids, separated by "
                               "commas (the first is kept, the others are merged into it)")
        if len(set(ids)) != len(ids):
            raise AuditorError(f"--merge-connections {group!r}: a connection is named twice")
        edits.append(Edit("merge-connections", ids))
    if not edits:
        raise AuditorError("say what to change: --disable-flow, --enable-flow, --delete-connection or "
                           "--merge-connections")
    seen: dict[tuple[str, str], str] = {}
    for edit in edits:
        for i in edit.ids:
            before = seen.get((edit.table, i))
            if before is not None:
                noun = edit.table[:-1]
                raise AuditorError(f"{edit.option} {i!r}: that {noun} is named by {before} too; name each "
                                   f"{noun} in one edit")
            seen[(edit.table, i)] = edit.option
    return edits


def _listed(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS:,} more" if len(ids) > SHOWN_IDS else "")


def _match(name: str, names: list[str]) -> str | None:
    """--account NAME as the audit spells it: itself, else the one name equal to it ignoring case."""
    if name in names:
        return name
    alike = sorted({n for n in names if n.casefold() == name.casefold()})
    if len(alike) > 1:
        raise AuditorError(f"--account {name!r} matches {', '.join(map(repr, alike))} when case is ignored: give "
                           "the name with its capitals")
    return alike[0] if alike else None


@dataclass
class Edits:
    """The edits, applied to an account run's loaded tables (called by `run` once they are read);
    `applied` then says what was changed where, as the results file's `whatif` section does."""

    edits: list[Edit]
    account: str | None = None  # look ids up in this account only
    env: str | None = None  # and in this environment only
    applied: list[dict] = field(default_factory=list)

    def __call__(self, con: duckdb.DuckDBPyConnection, snapshots: list[Snapshot]) -> None:
        names = [s.account for s in snapshots]
        # only the ids asked about are fetched (a partner's audit holds millions of resources)
        asked = {table: sorted({i for e in self.edits if e.table == table for i in e.ids})
                 for table in ("flows", "connections")}
        places = {table: con.execute(f"SELECT account_no, scope, {ENV_SQL} AS environment, id FROM {table} "
                                     "WHERE list_contains($ids, id)", {"ids": ids}).fetchall()
                  for table, ids in asked.items()}
        accounts = set(range(len(names)))
        if self.account is not None:
            name = _match(self.account, names)
            if name is None:
                raise AuditorError(f"--account {self.account!r}: no such account in this audit (accounts: "
                                   f"{_listed(sorted(set(names)))})")
            accounts = {no for no, n in enumerate(names) if n == name}
        if self.env is not None:
            envs = sorted({env for table in ("flows", "connections") for no, env in con.execute(
                f"SELECT DISTINCT account_no, {ENV_SQL} FROM {table}").fetchall() if no in accounts})
            if self.env not in envs:
                where = f" in {names[min(accounts)]}" if self.account is not None else ""
                raise AuditorError(f"--env {self.env!r}: no such environment{where} (environments: {_listed(envs)})")
        index: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
        for table, rows in places.items():
            for no, scope, env, rid in rows:
                if no in accounts and self.env in (None, env):
                    index.setdefault((table, rid), []).append((no, scope, env))
        resolved = []
        for edit in self.edits:
            found = [self._one(con, edit, i, index, names, accounts) for i in edit.ids]
            if len({(no, env) for no, _, env in found}) > 1:
                where = ", ".join(f"{i} in {names[no]} {env}" for i, (no, _, env) in zip(edit.ids, found))
                raise AuditorError(f"{edit.option} {','.join(edit.ids)!r}: the connections are in different "
                                   f"environments ({where}); only connections of one environment can be merged")
            resolved.append((edit, found[0]))
        self.applied = []
        for edit, (no, scope, env) in resolved:
            self._apply(con, edit, no, scope)
            self.applied.append({"kind": edit.kind, "account": names[no], "environment": env, "ids": list(edit.ids)})

    def _one(self, con, edit: Edit, rid: str, index: dict, names: list[str],
             accounts: set[int]) -> tuple[int, str, str]:
        """Where the id is: exactly one account and environment, else an error saying why not."""
        noun = edit.table[:-1]
        found = index.get((edit.table, rid), [])
        said = f"{edit.option} {rid!r}" if len(edit.ids) == 1 else f"{edit.option} {','.join(edit.ids)!r}: {noun} {rid!r}"
        if len(found) == 1:
            return found[0]
        where = "".join([f" in {self.account}" if self.account is not None else "",
                         f" in {self.env}" if self.env is not None else ""])
        if not found:
            valid = sorted({i for no, env, i in con.execute(
                f"SELECT DISTINCT account_no, {ENV_SQL}, id FROM {edit.table}").fetchall()
                if no in accounts and self.env in (None, env)})
            known = f"{edit.table}{where}: {_listed(valid)}" if valid else f"there are no {edit.table}{where}"
            raise AuditorError(f"{said}: no such {noun}{where} ({known})")
        shown = ", ".join(f"{names[no]} {env}" for no, _, env in sorted(found))
        which = "--env ENV" if len({no for no, _, _ in found}) == 1 else "--account NAME (and --env ENV)"
        raise AuditorError(f"{said}: a {noun} of that id is in {shown}; say which with {which}")

    @staticmethod
    def _apply(con: duckdb.DuckDBPyConnection, edit: Edit, no: int, scope: str) -> None:
        at = {"no": no, "scope": scope}
        if edit.kind in ("disable-flow", "enable-flow"):
            con.execute("UPDATE flows SET disabled = $off WHERE account_no = $no AND scope = $scope AND id = $id",
                        {**at, "off": edit.kind == "disable-flow", "id": edit.ids[0]})
            return
        gone = list(edit.ids[1:]) if edit.kind == "merge-connections" else [edit.ids[0]]
        if edit.kind == "merge-connections":
            keep = edit.ids[0]
            for table in ("exports", "imports"):
                con.execute(f'UPDATE {table} SET "_connectionId" = $keep WHERE account_no = $no AND scope = $scope '
                            'AND list_contains($gone, "_connectionId")', {**at, "keep": keep, "gone": gone})
            for table, col in JSON_FIELDS:
                _repoint_json(con, table, col, at, keep, set(gone))
        con.execute("DELETE FROM connections WHERE account_no = $no AND scope = $scope AND list_contains($gone, id)",
                    {**at, "gone": gone})


def _repoint_json(con, table: str, col: str, at: dict, keep: str, gone: set[str]) -> None:
    """Every connection id of `gone` in the JSON field `col` of `table` (one account and scope)
    made `keep`: under the keys that name a connection, and in overrides.connections[] entries."""
    rows = con.execute(f'SELECT id, "{col}" FROM {table} WHERE account_no = $no AND scope = $scope '
                       f'AND "{col}" IS NOT NULL', at).fetchall()
    changed = []
    # a quick look at the text first; an id JSON writes escaped (a quote, a backslash, a control
    # character) is not found so, and then every row is parsed
    plain = all(orjson.dumps(g).decode()[1:-1] == g for g in gone)
    for rid, text in rows:
        if plain and not any(g in text for g in gone):
            continue
        value = orjson.loads(text)
        new = _repoint(value, keep, gone)
        if new != value:
            changed.append((rid, orjson.dumps(new).decode()))
    if changed:
        con.register("repointed", pd.DataFrame(changed, columns=["id", "value"]))
        con.execute(f'UPDATE {table} SET "{col}" = CAST(r.value AS JSON) FROM repointed r '
                    f'WHERE {table}.account_no = $no AND {table}.scope = $scope AND {table}.id = r.id', at)
        con.unregister("repointed")


def _repoint(value, keep: str, gone: set[str], in_connections: bool = False):
    if isinstance(value, list):
        return [_repoint(v, keep, gone, in_connections) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        named = k in CONNECTION_KEYS or (in_connections and k in OVERRIDE_KEYS)
        if named and isinstance(v, str) and v in gone:
            out[k] = keep
        else:
            out[k] = _repoint(v, keep, gone, k == "connections" and isinstance(v, list))
    return out


@dataclass
class WhatIfRun:
    """One `auditor whatif`: the audit as if edited (as `auditor audit` has it), the environments
    before and after the edits, and the edits as made."""

    after: AccountRun
    compared: pd.DataFrame  # per account and environment: each metric used before, after, and entitled
    edits: list[dict]


def compare(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Per account and environment (in the audit's order): for each metric, the count before the
    edits, after them, and the entitlement."""
    keys = ["account", "environment"]
    out = after[keys].copy()
    old = before.set_index(keys)
    at = pd.MultiIndex.from_frame(after[keys])
    for metric, used in USED.items():
        out[f"{metric}_before"] = old[used].reindex(at).fillna(0).astype(int).to_numpy()
        out[f"{metric}_after"] = after[used].astype(int).to_numpy()
        out[f"{metric}_entitled"] = pd.to_numeric(after[f"{metric}_entitled"]).astype("Int64").array
    return out.reset_index(drop=True)


def whatif_run(paths: list[Path], policy: str, as_of: date, edits: Edits, *, rules: list[Rule], profile: str,
               mutes: Path | None = None, all_rows: bool = False, min_severity: str = "info",
               read_back: bool = False, progress=None, prices=None) -> WhatIfRun:
    """The audit of `paths` as if `edits` were made, its results file (with the `whatif` section,
    checked against the model), and the counts of the same audit without them."""
    from auditor.runs.account import finish

    chosen = load_policy(policy)
    # edited first: an unknown or ambiguous id stops the run before the second audit
    result: Audit = run(paths, chosen, rules, as_of, mutes, all_rows, progress, edits=edits)
    result.prices = prices  # --prices: the overage in money, as if edited
    after = finish(result, profile, min_severity, read_back=read_back, sections={"whatif": {"edits": edits.applied}})
    if progress:
        progress("counting again without the edits")
    before = run(paths, chosen, [], as_of)  # the counts only: no rules, no mutes
    return WhatIfRun(after, compare(before.environments, result.environments), edits.applied)
