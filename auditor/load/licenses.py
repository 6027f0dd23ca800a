"""Licenses: `licenses.json` read, every number and date checked.

Licenses are few (a handful per account), so they are read with orjson, not in bulk.
Two shapes carry the numbers (see DOMAIN.md §1): flat (`numEndpoints`, `numAddOnEndpoints`,
`numSandboxEndpoints`, ...) and nested (`endpoint.production.numEndpoints`, ...); both are read
into (base, add-on) per pool and metric. `auditor.count.entitlements` works out what each
environment is entitled to from them.
"""

from __future__ import annotations

from datetime import date

import orjson
import pandas as pd

from auditor.load.sheets import DATE_YEARS
from auditor.load.snapshot import ResourceFile
from auditor.load.tables import read_bytes, strict

PLAN_TYPES = ("platform", "endpoint", "integrator")  # preference order when several are live
LICENSE_TYPES = (*PLAN_TYPES, "connector")  # connector: an integration app's license (DOMAIN.md §1)
METRICS = {"flows": "Flows", "endpoints": "Endpoints", "trading_partners": "TradingPartners", "agents": "Agents"}
TIER_FLOWS = {"none": 0, "free": 1, "limited": 3, "standard": 8, "premium": 20, "enterprise": 50}
PAID_TIERS = ("limited", "standard", "premium", "enterprise")


def _read_records(account: str, f: ResourceFile, issues: list[dict]) -> list[tuple[int, dict]]:
    data = read_bytes(f)
    if not data.strip():
        issues.append({"account": account, "file": f.display, "record": None, "id": None,
                       "problem": "the file is empty; read as no licenses", "action": "counted"})
        return []
    strict(f, data)
    records = [orjson.loads(line) for line in data.splitlines() if line.strip()] \
        if f.format == "newline_delimited" else orjson.loads(data)
    good = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            issues.append({"account": account, "file": f.display, "record": i, "id": None, "problem": "license is not a JSON object", "action": "skipped"})
        elif not isinstance(rec.get("type"), str) or not rec["type"].strip():
            issues.append({"account": account, "file": f.display, "record": i, "id": rec.get("_id") if isinstance(rec.get("_id"), str) else None,
                           "problem": "license has no type", "action": "skipped"})
        elif _word(rec["type"]) not in LICENSE_TYPES:
            # never dropped in silence: an account whose plan license is of a type not known here
            # would read "no plan license" with nothing to say why
            issues.append({"account": account, "file": f.display, "record": i, "id": rec.get("_id") if isinstance(rec.get("_id"), str) else None,
                           "problem": f"license type is not one of {', '.join(LICENSE_TYPES)}; the license is not read",
                           "action": "skipped"})
        else:
            good.append((i, rec))
    return good


def _word(value: str) -> str:
    """A word of the vendor's vocabulary (a license type or tier) as it is compared: trimmed, in
    lower case."""
    return value.strip().lower()


def _vocabulary(value, field: str, known, note) -> str | None:
    """A license's type or tier: a known word, read in lower case and trimmed (and noted when it
    was not written so); anything else is noted and read as not given."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        kind = {"bool": "true or false", "list": "an array", "dict": "an object", "int": "a number",
                "float": "a number"}.get(type(value).__name__, "not text")
        note(f"license {field} must be one of {', '.join(known)}, not {kind}; read as not given")
        return None
    word = _word(value)
    if word not in known:
        note(f"license {field} is not one of {', '.join(known)}; read as not given")
        return None
    if word != value:
        note(f"license {field} is written in another case or with spaces; read as {word!r}")
    return word


MAX_NUMBER = 10**9  # no license gives a billion of anything: a larger number is a mistake


def number(value, field: str, note, what: str = "license") -> int | None:
    """A license number (or another count, `what` names whose): a whole number from 0 to
    MAX_NUMBER; anything else is noted and read as not given (so the entitlement it feeds is
    unknown, never a wrong figure)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = {"str": "a string", "bool": "true or false", "list": "an array", "dict": "an object"}.get(
            type(value).__name__, "not a number")
        note(f"{what} {field} must be a whole number, not {kind}; read as not given")
        return None
    if value != value or value in (float("inf"), float("-inf")) or abs(value) > MAX_NUMBER:
        note(f"{what} {field} is too large (over {MAX_NUMBER:,}); read as not given")
        return None
    if value < 0:
        note(f"{what} {field} is negative; read as not given")
        return None
    if value != int(value):
        note(f"{what} {field} is not a whole number; read as not given")
        return None
    return int(value)


def _pool_numbers(lic: dict, pool: str, note) -> dict[str, tuple[int | None, int | None]]:
    """metric -> (base, add-on) for one pool (production | sandbox), from either shape. When
    both shapes give a number and they differ, the flat one is read and the difference noted."""
    out: dict[str, tuple[int | None, int | None]] = {}
    blocks = []
    for name in dict.fromkeys((lic.get("type"), "endpoint", "integrator", "platform")):
        block = lic.get(name) if isinstance(name, str) else None
        if isinstance(block, dict) and isinstance(block.get(pool), dict):
            blocks.append((f"{name}.{pool}", block[pool]))
    for metric, word in METRICS.items():
        if pool == "production":
            flat = {"base": f"num{word}", "addon": f"numAddOn{word}"}
        else:
            addon = f"numSandboxAddOn{word}" if f"numSandboxAddOn{word}" in lic else f"numAddOnSandbox{word}"
            flat = {"base": f"numSandbox{word}", "addon": addon}
        got = {}
        for part, field in flat.items():
            value = number(lic.get(field), field, note)
            for where, block in blocks:
                nested_field = f"num{word}" if part == "base" else f"numAddOn{word}"
                other = number(block.get(nested_field), f"{where}.{nested_field}", note)
                if other is None:
                    continue
                if value is None:
                    value, field = other, f"{where}.{nested_field}"
                elif other != value:
                    note(f"license {field} ({value}) and {where}.{nested_field} ({other}) disagree; {field} is read")
            got[part] = value
        out[metric] = (got["base"], got["addon"])
    return out


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _date_text(value, field: str, note) -> str | None:
    """A license date as text to parse: ISO text as it is; a number is read as epoch
    milliseconds (what JavaScript dates serialise to) and said so; anything else is noted."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2**53:
        day = pd.Timestamp(int(value), unit="ms")
        if DATE_YEARS[0] <= day.year <= DATE_YEARS[1]:
            note(f"license {field} is a number; read as epoch milliseconds: {day:%Y-%m-%d}")
            return day.isoformat() + "Z"
    note(f"license {field} is not a date; read as no {field}")
    return None


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

                def note(problem: str, f=f, i=i, lid=lid) -> None:
                    issues.append({"account": account, "file": f.display, "record": i, "id": lid,
                                   "problem": problem, "action": "counted"})

                kind = _vocabulary(lic["type"], "type", LICENSE_TYPES, note)
                tier = _vocabulary(lic.get("tier"), "tier", tuple(TIER_FLOWS), note)
                expires, trial_end = (_date_text(lic.get(k), k, note) for k in ("expires", "trialEndDate"))
                if lic.get("sandbox") is not None and not isinstance(lic.get("sandbox"), bool):
                    note("license sandbox must be true or false; read as false")
                rows.append({
                    "account": account, "license_id": lid, "type": kind, "tier": tier,
                    "connector_id": _text(lic.get("_connectorId")), "edition": _text(opts.get("connectorEdition")),
                    "integration_id": _text(lic.get("_integrationId")),
                    "expires_raw": expires, "trial_end_raw": trial_end,
                    "production": _pool_numbers(lic, "production", note), "sandbox": _pool_numbers(lic, "sandbox", note),
                    "sandbox_license": lic.get("sandbox") is True, "file": f.display, "record": i,
                })
    frame = pd.DataFrame(rows, columns=[
        "account", "license_id", "type", "tier", "connector_id", "edition", "integration_id",
        "expires_raw", "trial_end_raw", "production", "sandbox", "sandbox_license", "file", "record"])
    day = pd.Timestamp(as_of)
    for col, field in (("expires", "expires"), ("trial_end", "trialEndDate")):
        raw = frame[f"{col}_raw"]
        parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="ISO8601").dt.tz_localize(None).dt.normalize()
        # a year outside DATE_YEARS (year 0, 9999) is no license's date, and pandas cannot even
        # write one out: noted and read as not given, as text that is no date is
        far = parsed.notna() & ~parsed.dt.year.between(*DATE_YEARS)
        frame[col] = parsed.where(~far)
        for bad, why in ((raw.notna() & parsed.isna(), "is not a date"),
                         (far, f"is outside the years {DATE_YEARS[0]} to {DATE_YEARS[1]}")):
            rows = frame[bad]
            issues.extend({"account": a, "file": fl, "record": r, "id": lid, "action": "counted",
                           "problem": f"license {field} {why}; read as no {field}"}
                          for a, fl, r, lid in zip(rows["account"], rows["file"], rows["record"], rows["license_id"]))
    frame["on_trial"] = frame["trial_end"].notna() & (frame["trial_end"] >= day)
    frame["days_left"] = (frame["expires"] - day).dt.days.astype("Int64")
    frame["days_ago"] = -frame["days_left"]
    return frame.drop(columns=["expires_raw", "trial_end_raw"])
