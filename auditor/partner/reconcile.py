"""Licensed against billed: one row per customer and connector, with what matched on what.

Licenses (from the partner snapshot and any hand-kept list) and billing rows (CSV or XLSX through
a mapping) are matched on the customer's e-mail (trimmed, lower case), else on the account id,
and on the connector (its id, or its name as the connectors list gives it). Each row says what
is wrong, if anything, and the amount at stake where the billing gives one:

- licensed and not billed, or licensed past the billed period: revenue leak;
- billed and not licensed, licensed to a lower edition, or fewer stores than billed: over-billing;
- billed past the license expiry.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from auditor.load.sheets import Field, Mapping, clean_email, load_mapping, read_table

BILLING_FIELDS = {
    "email": Field("email"), "account_id": Field("text"), "connector": Field("text", required=True),
    "edition": Field("text"), "quantity": Field("number", minimum=0, whole=True), "period_start": Field("date", required=True),
    "period_end": Field("date", required=True), "amount": Field("number", minimum=0), "currency": Field("currency"),
    "invoice": Field("text"),
}
EDITIONS = ["trial", "free", "starter", "basic", "standard", "professional", "premium", "enterprise"]
COLUMNS = ["key", "customer", "matched_on", "connector_id", "connector", "licenses", "license_edition", "license_stores",
           "license_expires", "live", "billed_edition", "billed_quantity", "period_start", "period_end", "amount",
           "currency", "invoices", "status", "category", "at_stake", "not_billed", "not_licensed",
           "lower_edition", "fewer_stores", "billed_past_expiry", "licensed_past_period", "detail"]


def read_billing(path: Path, mapping_file: Path | None, connectors: pd.DataFrame,
                 issues: list[dict]) -> tuple[pd.DataFrame, Mapping]:
    mapping = load_mapping(mapping_file, BILLING_FIELDS, {f: f for f in BILLING_FIELDS})
    table, problems = read_table(path, mapping, BILLING_FIELDS, one_of=("email", "account_id"))
    for p in problems:
        issues.append({"file": p["file"], "record": p["row"], "id": None,
                       "problem": f"row {p['row']}, column {p['column']!r}: {p['problem']}", "action": p["action"]})
    # a period that ends before it starts is no period: which of its dates is the slip is unknown
    backwards = table["period_end"] < table["period_start"]
    header = f"{mapping.columns.get('period_start')!r} and {mapping.columns.get('period_end')!r}"
    for row in table.loc[backwards, "row"]:
        issues.append({"file": str(path), "record": int(row), "id": None, "action": "skipped",
                       "problem": f"row {row}, columns {header}: the billing period ends before it starts"})
    table = table[~backwards].reset_index(drop=True)
    by_name = dict(zip(connectors["connector"].str.lower(), connectors["connector_id"]))
    ids = set(connectors["connector_id"])
    table["connector_id"] = table["connector"].map(lambda v: v if v in ids else by_name.get(str(v).lower(), v))
    table["quantity"] = table["quantity"].fillna(1)
    return table, mapping


def _joined(frame: pd.DataFrame, keys: list[str], col: str) -> pd.Series:
    """The distinct values of `col` per group, sorted and joined with ", " (None where there are none)."""
    values = frame[[*keys, col]].dropna(subset=[col]).astype({col: object}).drop_duplicates().sort_values([*keys, col])
    groups = values.groupby(keys)[col]
    out = groups.first()
    many = groups.size() > 1  # only groups of several values need joining, one by one
    if many.any():
        several = values.set_index(keys).loc[many[many].index]
        out[many] = several.groupby(level=keys)[col].agg(lambda v: ", ".join(map(str, v)))
    return out


def _rank(editions: list[str]):
    order = {e.lower(): i for i, e in enumerate(editions)}
    return lambda e: None if e is None or pd.isna(e) else order.get(str(e).lower())


def reconcile(licenses: pd.DataFrame, billing: pd.DataFrame, connectors: pd.DataFrame, as_of: date,
              editions: list[str] | None = None) -> pd.DataFrame:
    rank = _rank(editions or EDITIONS)
    day = pd.Timestamp(as_of)
    emails = licenses["email"].map(lambda v: clean_email(v) if isinstance(v, str) and v.strip() else None)
    lic = licenses.assign(email=emails)
    lic = lic.assign(customer=lic["email"].where(lic["email"].notna(), lic["account_id"]),
                          key_kind=lic["email"].notna().map({True: "email", False: "account id"}))
    lic = lic[lic["customer"].notna()]
    lic = lic.assign(_rank=lic["edition"].map(rank), _live_stores=lic["stores"].where(lic["live"], 0))
    lic_g = lic.sort_values(["live", "_rank"], ascending=[False, False]).groupby(["customer", "connector_id"])
    keys = ["customer", "connector_id"]
    lside = pd.DataFrame({
        "licenses": _joined(lic, keys, "license_id"),
        "license_edition": lic_g["edition"].first(), "license_stores": lic_g["_live_stores"].sum(),
        "license_expires": lic_g["expires"].max(), "live": lic_g["live"].any(), "trial": lic_g["trial"].all(),
        "l_kind": lic_g["key_kind"].first(),
        "l_account": lic_g["account_id"].first(),
    }).reset_index()

    bill = billing.assign(customer=billing["email"].where(billing["email"].notna(), billing["account_id"]),
                          key_kind=billing["email"].notna().map({True: "email", False: "account id"}),
                          _rank=billing["edition"].map(rank))
    bill_g = bill.sort_values("_rank", ascending=False).groupby(["customer", "connector_id"])
    bside = pd.DataFrame({
        "billed_edition": bill_g["edition"].first(), "billed_quantity": bill_g["quantity"].max(),
        "period_start": bill_g["period_start"].min(), "period_end": bill_g["period_end"].max(),
        "amount": bill_g["amount"].sum(min_count=1),
        "currency": _joined(bill, keys, "currency"),
        "invoices": _joined(bill, keys, "invoice"),
        "b_kind": bill_g["key_kind"].first(),
    }).reset_index()

    # account-id billing rows match a license whose account id is the same (its customer key is its e-mail)
    by_account = lside.dropna(subset=["l_account"]).set_index(["l_account", "connector_id"])["customer"].to_dict()
    acct = bside["b_kind"] == "account id"
    bside.loc[acct, "customer"] = [by_account.get((c, k), c) for c, k in
                                   zip(bside.loc[acct, "customer"], bside.loc[acct, "connector_id"])]

    rows = lside.merge(bside, on=["customer", "connector_id"], how="outer", indicator=True)
    both = rows["_merge"] == "both"
    rows["matched_on"] = None
    rows.loc[both, "matched_on"] = rows.loc[both, "b_kind"]
    rows = rows.merge(connectors[["connector_id", "connector"]], on="connector_id", how="left")
    rows["connector"] = rows["connector"].fillna(rows["connector_id"])

    has_l, has_b = rows["_merge"] != "right_only", rows["_merge"] != "left_only"
    live = rows["live"].fillna(False).astype(bool)
    current = has_b & (rows["period_end"] >= day)
    # numbers or NaN: a billing without an edition column gives no ranks at all (None, which
    # cannot be compared)
    lrank = pd.to_numeric(rows["license_edition"].map(rank), errors="coerce")
    brank = pd.to_numeric(rows["billed_edition"].map(rank), errors="coerce")
    rows["not_billed"] = has_l & live & ~has_b & ~rows["trial"].fillna(False).astype(bool)  # trials are free
    rows["not_licensed"] = has_b & ~has_l
    rows["lower_edition"] = (has_l & has_b & lrank.notna() & brank.notna() & (lrank < brank)).astype(bool)
    rows["fewer_stores"] = (has_l & has_b & (rows["billed_quantity"] > 1)
                            & (rows["license_stores"].fillna(0) < rows["billed_quantity"])).astype(bool)
    rows["billed_past_expiry"] = (has_l & has_b & rows["license_expires"].notna()
                                  & (rows["period_end"] > rows["license_expires"])).fillna(False).astype(bool)
    rows["licensed_past_period"] = (has_l & has_b & live & ~current
                                    & (rows["license_expires"].isna() | (rows["license_expires"] > rows["period_end"]))
                                    ).fillna(False).astype(bool)

    checks = [("not_billed", "licensed, not billed", "revenue leak"),
              ("licensed_past_period", "licensed past the billed period", "revenue leak"),
              ("not_licensed", "billed, not licensed", "over-billing"),
              ("lower_edition", "licensed to a lower edition than billed", "over-billing"),
              ("fewer_stores", "fewer stores licensed than billed", "over-billing"),
              ("billed_past_expiry", "billed past the license expiry", "over-billing")]
    status = pd.Series("matched", index=rows.index, dtype=object)
    category = pd.Series("ok", index=rows.index, dtype=object)
    details = pd.Series("", index=rows.index, dtype=object)
    for col, text, cat in reversed(checks):  # the first that holds is the row's status
        status = status.mask(rows[col], text)
        category = category.mask(rows[col], cat)
    for col, text, _ in checks:
        details = details.mask(rows[col], details.where(details == "", details + "; ") + text)
    status = status.mask(has_l & ~live & ~has_b, "lapsed, not billed")
    status = status.mask(has_l & live & ~has_b & rows["trial"].fillna(False).astype(bool), "trial, not billed")
    rows["status"], rows["category"] = status, category
    over = category == "over-billing"
    rows["at_stake"] = rows["amount"].where(over)
    rows["detail"] = _explain(rows, details)
    rows["key"] = rows["customer"] + " / " + rows["connector_id"]
    return rows[COLUMNS].sort_values(["category", "connector_id", "customer"]).reset_index(drop=True)


def _explain(rows: pd.DataFrame, details: pd.Series) -> pd.Series:
    """What is wrong (if anything), then the facts on both sides, a whole column at a time."""
    def day(col: str) -> pd.Series:
        return rows[col].dt.strftime("%Y-%m-%d").fillna("-")

    def text(col: str) -> pd.Series:
        return rows[col].astype(object).where(rows[col].notna(), "?").astype(str)

    licensed = ("licensed " + text("license_edition") + " with " + rows["license_stores"].fillna(0).astype(int).astype(str)
                + " stores to " + day("license_expires")).where(rows["licenses"].notna(), "no license")
    billed = ("billed " + text("billed_edition") + " x" + rows["billed_quantity"].fillna(0).astype(int).astype(str)
              + " " + day("period_start") + " to " + day("period_end")).where(rows["period_end"].notna(), "not billed")
    return details.where(details == "", details + ": ") + licensed + "; " + billed
