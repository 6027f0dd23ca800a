"""Entitlements: what each environment is entitled to, from the licenses `auditor.load.licenses`
read. Totals are base plus add-on. Older `integrator` licenses give flows by `tier`, as the
vendor's UI works them out; a trial is unlimited, but for an integrator license of a paid tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from auditor.load.licenses import METRICS, PAID_TIERS, PLAN_TYPES, TIER_FLOWS


@dataclass
class Entitlement:
    value: int | None  # None: `none` says why
    source: str
    none: str = "unknown"  # with no value: "not on this plan", "unlimited" or "unknown" (vocabulary.NO_NUMBER)


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


def _tier_flows(plan: dict, pool: str) -> tuple[int, str]:
    """The flows an integrator license's tier gives one pool, as the vendor's UI works them out:
    production, the tier's flows, but the free tier's one flow only for a license with no flow
    add-ons that is no sandbox license and has no sandbox add-ons; sandbox, the tier's flows for a
    sandbox license (`sandbox: true`), else none."""
    tier, flows = plan["tier"], TIER_FLOWS[plan["tier"]]
    if pool == "sandbox":
        return (flows, "a sandbox license") if plan["sandbox_license"] else (0, "not a sandbox license")
    if tier == "free":
        if plan["production"]["flows"][1] or plan["sandbox_license"] or plan["sandbox"]["flows"][1]:
            return 0, "the free flow goes with flow add-ons or a sandbox license"
        return 1, "the free tier's one flow"
    return flows, f"the {tier} tier"


def states(used: pd.Series, entitled: pd.Series, none: pd.Series, expired: pd.Series) -> pd.Series:
    """Where each environment stands on one metric (vocabulary.STATES): over, at limit (as many used
    as entitled, and some: 0 of 0 is within, as the rules have it), within; expired where the
    license its number comes from has expired (its figure is no longer current); with no number,
    why there is none (`none`: Entitlement.none)."""
    ent = entitled.astype("Float64")
    out = pd.Series("within", index=used.index, dtype=object)
    out[((used == ent) & (used > 0)).fillna(False).to_numpy(dtype=bool)] = "at limit"
    out[(used > ent).fillna(False).to_numpy(dtype=bool)] = "over"
    out[expired.notna().to_numpy(dtype=bool)] = "expired"
    missing = ent.isna().to_numpy(dtype=bool)
    out[missing] = none[missing].fillna("unknown")
    return out


def entitlements(plan: dict | None, pool: str | None) -> dict[str, Entitlement]:
    """metric -> Entitlement for one environment drawing on `pool`."""
    if plan is None:
        return {m: Entitlement(None, "no plan license in licenses.json") for m in METRICS}
    what = f"{plan['type']} license {plan['license_id']}"
    if pool is None:
        return {m: Entitlement(None, f"{what} says nothing for this environment (see account.json `environments`)") for m in METRICS}
    paid_tier = plan["type"] == "integrator" and plan["tier"] in PAID_TIERS
    if plan["on_trial"] and not paid_tier:
        return {m: Entitlement(None, f"{what} is on trial until {plan['trial_end']:%Y-%m-%d}: unlimited", "unlimited")
                for m in METRICS}
    trial = (f"; on trial until {plan['trial_end']:%Y-%m-%d}, which the vendor's UI does not count as unlimited "
             "for a paid tier") if plan["on_trial"] else ""
    out = {}
    for metric in METRICS:
        base, addon = plan[pool][metric]
        if plan["type"] == "integrator" and metric == "flows" and base is None and plan["tier"] in TIER_FLOWS:
            base, why = _tier_flows(plan, pool)
            source = f"{what}, tier {plan['tier']!r}: {base} flows ({why}) plus {addon or 0} {pool} add-on{trial}"
        else:
            source = f"{what}, {pool}: {base or 0} plus {addon or 0} add-on"
        if base is None and addon is None:
            out[metric] = Entitlement(None, f"{what} gives no {pool} {metric.replace('_', ' ')}", "not on this plan")
        else:
            out[metric] = Entitlement((base or 0) + (addon or 0), source)
    return out
