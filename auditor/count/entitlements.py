"""Licenses: read `licenses.json` and work out what each environment is entitled to.

Licenses are few (a handful per account), so they are read with orjson, not in bulk.
Two shapes carry the numbers (see DOMAIN.md §1): flat (`numEndpoints`, `numAddOnEndpoints`,
`numSandboxEndpoints`, ...) and nested (`endpoint.production.numEndpoints`, ...). Totals are
base plus add-on. Older `integrator` licenses give flows by `tier`; a trial is unlimited.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import date

import orjson
import pandas as pd

from auditor.errors import InputError
from auditor.load.snapshot import ResourceFile

PLAN_TYPES = ("platform", "endpoint", "integrator")  # preference order when several are live
METRICS = {"flows": "Flows", "endpoints": "Endpoints", "trading_partners": "TradingPartners", "agents": "Agents"}
TIER_FLOWS = {"none": 0, "free": 1, "limited": 3, "standard": 8, "premium": 20, "enterprise": 50}


@dataclass
class Entitlement:
    value: int | None  # None: unlimited or unknown, `source` says which
    source: str


def _read_records(account: str, f: ResourceFile, issues: list[dict]) -> list[tuple[int, dict]]:
    opener = gzip.open if f.path.name.endswith(".gz") else open
    with opener(f.path, "rb") as fh:
        data = fh.read()
    if not data.strip():
        return []
    try:
        if f.format == "newline_delimited":
            records = [orjson.loads(line) for line in data.splitlines() if line.strip()]
        else:
            records = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f.display, f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(records, list):
        raise InputError(f.display, "must hold a JSON array of licenses")
    good = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            issues.append({"account": account, "file": f.display, "record": i, "id": None, "problem": "license is not a JSON object", "action": "skipped"})
        elif not isinstance(rec.get("type"), str):
            issues.append({"account": account, "file": f.display, "record": i, "id": rec.get("_id") if isinstance(rec.get("_id"), str) else None,
                           "problem": "license has no type", "action": "skipped"})
        else:
            good.append((i, rec))
    return good


def _number(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    return None


def _pool_numbers(lic: dict, pool: str) -> dict[str, tuple[int | None, int | None]]:
    """metric -> (base, add-on) for one pool (production | sandbox), from either shape."""
    out: dict[str, tuple[int | None, int | None]] = {}
    nested = [lic.get(k) for k in (lic.get("type"), "endpoint", "integrator", "platform")]
    nested = [n.get(pool) for n in nested if isinstance(n, dict) and isinstance(n.get(pool), dict)]
    for metric, word in METRICS.items():
        if pool == "production":
            base, addon = _number(lic.get(f"num{word}")), _number(lic.get(f"numAddOn{word}"))
        else:
            base = _number(lic.get(f"numSandbox{word}"))
            addon = _number(lic.get(f"numSandboxAddOn{word}", lic.get(f"numAddOnSandbox{word}")))
        for block in nested:
            base = base if base is not None else _number(block.get(f"num{word}"))
            addon = addon if addon is not None else _number(block.get(f"numAddOn{word}"))
        out[metric] = (base, addon)
    return out


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def read_licenses(accounts: list[tuple[str, list[ResourceFile]]], as_of: date, issues: list[dict]) -> pd.DataFrame:
    """One row per license of every account; dates parsed once, column-wise."""
    rows = []
    for account, files in accounts:
        seen: set[str] = set()
        for f in files:
            for i, lic in _read_records(account, f, issues):
                lid = _text(lic.get("_id")) or f"{f.display}#{i}"
                if lid in seen:
                    continue  # the same license seen in another environment folder
                seen.add(lid)
                opts = lic.get("opts") if isinstance(lic.get("opts"), dict) else {}
                rows.append({
                    "account": account, "license_id": lid, "type": lic["type"], "tier": _text(lic.get("tier")),
                    "connector_id": _text(lic.get("_connectorId")), "edition": _text(opts.get("connectorEdition")),
                    "integration_id": _text(lic.get("_integrationId")),
                    "expires_raw": _text(lic.get("expires")), "trial_end_raw": _text(lic.get("trialEndDate")),
                    "production": _pool_numbers(lic, "production"), "sandbox": _pool_numbers(lic, "sandbox"),
                    "file": f.display, "record": i,
                })
    frame = pd.DataFrame(rows, columns=[
        "account", "license_id", "type", "tier", "connector_id", "edition", "integration_id",
        "expires_raw", "trial_end_raw", "production", "sandbox", "file", "record"])
    day = pd.Timestamp(as_of)
    for col, field in (("expires", "expires"), ("trial_end", "trialEndDate")):
        raw = frame[f"{col}_raw"]
        parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601").dt.tz_localize(None).dt.normalize()
        frame[col] = parsed
        bad = frame[raw.notna() & parsed.isna()]
        issues.extend({"account": a, "file": fl, "record": r, "id": lid, "action": "counted",
                       "problem": f"license {field} is not a date; read as no {field}"}
                      for a, fl, r, lid in zip(bad["account"], bad["file"], bad["record"], bad["license_id"]))
    frame["on_trial"] = frame["trial_end"].notna() & (frame["trial_end"] >= day)
    frame["days_left"] = (frame["expires"] - day).dt.days.astype("Int64")
    frame["days_ago"] = -frame["days_left"]
    return frame.drop(columns=["expires_raw", "trial_end_raw"])


def plan_licenses(licenses: pd.DataFrame, as_of: date) -> dict[str, dict]:
    """account -> the license that sets its plan: a live one before an expired one, then the
    latest expiry, then platform before endpoint before integrator."""
    plans = licenses[licenses["type"].isin(PLAN_TYPES)]
    ranked = plans.assign(
        _expired=plans["expires"].notna() & (plans["expires"] < pd.Timestamp(as_of)),
        _order=plans["type"].map(PLAN_TYPES.index),
    ).sort_values(["account", "_expired", "expires", "_order"], ascending=[True, True, False, True],
                  na_position="first")  # no expiry date: never expires
    best = ranked.drop_duplicates("account")
    return {row["account"]: row for row in best.to_dict("records")}


def entitlements(plan: dict | None, pool: str | None) -> dict[str, Entitlement]:
    """metric -> Entitlement for one environment drawing on `pool`."""
    if plan is None:
        return {m: Entitlement(None, "no plan license in licenses.json") for m in METRICS}
    what = f"{plan['type']} license {plan['license_id']}"
    if pool is None:
        return {m: Entitlement(None, f"{what} says nothing for this environment (see account.json `environments`)") for m in METRICS}
    if plan["on_trial"]:
        return {m: Entitlement(None, f"{what} is on trial until {plan['trial_end']:%Y-%m-%d}: unlimited") for m in METRICS}
    out = {}
    for metric in METRICS:
        base, addon = plan[pool][metric]
        if plan["type"] == "integrator" and pool == "production" and metric == "flows" and base is None and plan["tier"] in TIER_FLOWS:
            base = TIER_FLOWS[plan["tier"]]
            source = f"{what}, tier {plan['tier']!r}: {base} flows plus {addon or 0} add-on"
        else:
            source = f"{what}, {pool}: {base or 0} plus {addon or 0} add-on"
        if base is None and addon is None:
            out[metric] = Entitlement(None, f"{what} gives no {pool} {metric.replace('_', ' ')}")
        else:
            out[metric] = Entitlement((base or 0) + (addon or 0), source)
    return out
