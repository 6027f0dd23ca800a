"""A NetSuite run: two integration record lists (and a snapshot's connections) judged and made a
document."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd

from auditor.common.errors import AuditorError
from auditor.common.vocabulary import DEFAULT_APPLICATION
from auditor.count.policy import load_policy
from auditor.load.checksums import checksums
from auditor.netsuite.records import (
    check_lists,
    links_frame,
    normalise_account,
    read_list,
    records_frame,
)
from auditor.results.build import document, records
from auditor.results.model import NsLink, NsRecord
from auditor.runs.account import run
from auditor.runs.judge import judge


def snapshot_connections(snapshot: Path, as_of: date) -> pd.DataFrame:
    """The NetSuite connections of a snapshot (or folder of them): account name, id, name, NetSuite account."""
    audit = run([snapshot], load_policy("default"), [], as_of)  # the run's day: its licenses are read as of it
    conns = audit.connections
    ns = conns[(conns["type"] == "netsuite") & conns["netsuite_account"].notna()]
    return pd.DataFrame({"snapshot_account": ns["account"], "id": ns["id"], "name": ns["name"],
                         "account": ns["netsuite_account"].map(normalise_account)}).reset_index(drop=True)



def audit_netsuite(sandbox_list: Path, production_list: Path, as_of: date, rules: list, *,
                   mapping: Path | None = None, snapshot: Path | None = None, refreshed_on: date | None = None,
                   application: str = DEFAULT_APPLICATION, mutes_file: Path | None = None) -> dict:
    """The results document of two integration record lists (and a snapshot's connections)."""
    try:
        re.compile(application)
    except re.error as exc:
        raise AuditorError(f"--application: not a regular expression ({exc})") from None
    issues: list[dict] = []
    sandbox, sandbox_day = read_list(sandbox_list, mapping, issues)
    production, production_day = read_list(production_list, mapping, issues)
    check_lists(sandbox, production, sandbox_list, production_list)
    if refreshed_on is None and sandbox_day and production_day and sandbox_day > production_day:
        refreshed_on = production_day  # the sandbox list is newer: it was refreshed from that production
    conns = snapshot_connections(snapshot, as_of) if snapshot is not None else None
    recs = records_frame(sandbox, production, refreshed_on=refreshed_on, connections=conns, application=application)
    frame = recs.rename(columns={"account": "netsuite_account"}).assign(
        account=recs["base_account"], record_key=recs["account"] + "/" + recs["application_id"])
    frames = {"ns_records": frame}
    if conns is not None:
        frames["ns_links"] = links_frame(recs, conns)
    chosen = [r for r in rules if r.frame in frames]
    inputs = checksums(("-", p.name, p) for p in (sandbox_list, production_list, mapping) if p is not None)
    return document(as_of, judge(chosen, frames, as_of, mutes=[(mutes_file, None)] if mutes_file else []), issues, chosen, inputs,
                    ns_records=records(recs, NsRecord, "ns_records"),
                    ns_links=records(frames["ns_links"], NsLink, "ns_links") if conns is not None else None,
                    ns_refreshed_on=refreshed_on.isoformat() if refreshed_on else None)
