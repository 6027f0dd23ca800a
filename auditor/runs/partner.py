"""A partner's run: its integration app licenses (and their billing) judged and made a document."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from auditor.load.checksums import checksums
from auditor.partner.licenses import license_frame, load_partner, read_license_list
from auditor.partner.reconcile import read_billing, reconcile
from auditor.results.build import document, records
from auditor.results.model import ConnectorLicense, ReconciliationRow
from auditor.runs.judge import judge


def audit_partner(root: Path, as_of: date, rules: list, *, billing: Path | None = None,
                  billing_map: Path | None = None, license_list: Path | None = None,
                  license_map: Path | None = None, mutes_file: Path | None = None) -> dict:
    """The results document of a partner's licenses (and their billing): rows, findings, issues."""
    issues: list[dict] = []
    partner = root.resolve().name
    connectors, licenses, installs = load_partner(root, issues)
    # regular files only: a named pipe would block the hashing, a link lead out of the snapshot
    inputs = [(p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*.json"))
              if p.is_file() and not p.is_symlink()]
    if license_list is not None:
        licenses = pd.concat([licenses, read_license_list(license_list, license_map, connectors, issues)],
                             ignore_index=True)
        inputs.append((license_list.name, license_list))
    frame = license_frame(connectors, licenses, installs, as_of).assign(account=partner)
    frames = {"connector_licenses": frame}
    recon = None
    if billing is not None:
        table, mapping = read_billing(billing, billing_map, connectors, issues)
        recon = reconcile(frame, table, connectors, as_of, mapping.editions or None).assign(account=partner)
        frames["reconciliation"] = recon
        inputs.append((billing.name, billing))
    chosen = [r for r in rules if r.frame in frames]
    return document(as_of, judge(chosen, frames, as_of, mutes=[(mutes_file, None)] if mutes_file else []), [{"account": partner, **i} for i in issues], chosen,
                    checksums((partner, d, p) for d, p in inputs),
                    connector_licenses=records(frame, ConnectorLicense, "connector_licenses"),
                    reconciliation=records(recon, ReconciliationRow, "reconciliation") if recon is not None else None)
