"""Integration app licenses, as a partner sees them: connectors, their licenses and install base.

A partner snapshot is what `auditor pull --partner` writes (or the same by hand): `connectors.json`
and, per connector, `connectors/<connector _id>/licenses.json` and `installBase.json`. A list kept
by hand (CSV or XLSX, through a mapping) may add licenses the API does not hold.

Each license becomes one row with the columns the `connector_licenses` rules read: state (live,
expired, installed, pending user, trial), days to expiry, age, edition and whether the connector
offers it, add-on stores licensed against the stores the install base reports.
"""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import orjson
import pandas as pd

from auditor.common.errors import AuditorError, InputError
from auditor.common.paths import safe_id
from auditor.load.sheets import DATE_YEARS, Field, load_mapping, read_table

TRIAL_DAYS = 30  # a license that expires within this many days of its creation is a trial

LICENSE_LIST_FIELDS = {
    "email": Field("email", required=True), "connector": Field("text", required=True),
    "edition": Field("text"), "expires": Field("date"), "created": Field("date"), "stores": Field("number"),
    "account_id": Field("text"), "license_id": Field("text"),
}

COLUMNS = ["license_id", "connector_id", "connector", "source", "email", "user_id", "user_name", "account_id",
           "integration_id", "edition", "editions_offered", "edition_offered", "created", "expires",
           "expires_from", "global", "trial", "installed", "in_install_base", "pending", "live", "days_left",
           "days_ago", "age_days", "stores", "store_editions", "stores_installed", "stores_short", "file", "record"]


def _read_json(path: Path, display: str, root: Path) -> list:
    """A partner snapshot's JSON list: only a regular file inside the snapshot is read (a link
    that leads out of it, a named pipe or a device is refused by name)."""
    if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
        raise InputError(display, "is a symbolic link that leads out of the partner snapshot; it is not read")
    if not stat.S_ISREG(path.stat().st_mode):
        raise InputError(display, "is not a regular file; only regular files are read")
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(display, f"cannot read ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise InputError(display, f"not valid JSON at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(data, list):
        raise InputError(display, f"a list of records was expected, not {type(data).__name__}")
    return data


def is_partner_snapshot(folder: Path) -> bool:
    return (folder / "connectors.json").is_file()


def _stores(opts: dict) -> tuple[int, str | None]:
    count, editions = 0, []
    addons = opts.get("addonLicenses")
    for addon in addons if isinstance(addons, list) else []:
        if isinstance(addon, dict) and addon.get("type") == "store" and isinstance(addon.get("licenses"), list):
            for lic in addon["licenses"]:
                count += 1
                if isinstance(lic, dict) and lic.get("addOnEdition"):
                    editions.append(str(lic["addOnEdition"]))
    by = pd.Series(editions).value_counts().sort_index() if editions else None
    return count, (", ".join(f"{n} {e}" for e, n in by.items()) if by is not None else None)


_WORDS = {str: "a string", bool: "true or false", dict: "an object", list: "an array", int: "a number",
          float: "a number", type(None): "null"}


def _typed_reader(rec: dict, what: str, file: str, n: int, rid: str | None, issues: list[dict]):
    """get(field, type, within=rec): the field's value when it has that type; a value of another
    type is noted (naming the record and the field) and read as not given, never as something
    else (`"global": "false"` is not a global license)."""
    def get(field: str, kind, within: dict | None = None):
        value = (rec if within is None else within).get(field.rsplit(".", 1)[-1])
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if value is None or (isinstance(value, kinds) and not (bool not in kinds and isinstance(value, bool))):
            return value
        want = " or ".join(dict.fromkeys(_WORDS[k] for k in kinds))
        issues.append({"file": file, "record": n, "id": rid, "action": "counted",
                       "problem": f"{what} {field} must be {want}, not {_WORDS.get(type(value), 'something else')}; "
                                  "read as not given"})
        return None
    return get


def _drop_bad_dates(frame: pd.DataFrame, fields: dict[str, str], what: str, ids: pd.Series | None,
                    issues: list[dict]) -> None:
    """Dates that are no dates are noted and read as not given: whole columns parsed at once
    (a parse per record added up to seconds at a hundred thousand licenses)."""
    for col, field in fields.items():
        raw = frame[col] if col in frame else pd.Series(dtype=object)
        parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
        far = parsed.notna() & ~parsed.dt.year.between(*DATE_YEARS)  # year 0 crashed the results' writing
        for bad, why in ((raw.notna() & parsed.isna(), "is not a date"),
                         (far, f"is outside the years {DATE_YEARS[0]} to {DATE_YEARS[1]}")):
            for i in bad[bad].index:
                issues.append({"file": frame.at[i, "file"], "record": frame.at[i, "record"],
                               "id": None if ids is None else ids[i], "action": "counted",
                               "problem": f"{what} {field} {why}; read as not given"})
            frame.loc[bad, col] = None


def load_partner(root: Path, issues: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(connectors, licenses, install base) of a partner snapshot; bad records go to `issues`."""
    if not is_partner_snapshot(root):
        raise AuditorError(f"{root}: not a partner snapshot (no connectors.json; see 'auditor pull --partner')")
    display = root.name
    connectors, licenses, installs = [], [], []
    for i, c in enumerate(_read_json(root / "connectors.json", f"{display}/connectors.json", root)):
        if not isinstance(c, dict) or not isinstance(c.get("_id"), str):
            issues.append({"file": f"{display}/connectors.json", "record": i, "id": None,
                           "problem": "connector without an _id", "action": "skipped"})
            continue
        if safe_id(c["_id"]) is None:  # it names a folder: never one outside the snapshot
            issues.append({"file": f"{display}/connectors.json", "record": i, "id": c["_id"],
                           "problem": "connector _id is not a plain id (letters, digits, _ and - only), so it "
                                      "cannot name its folder; its licenses and install base are not read",
                           "action": "skipped"})
            continue
        offered = c.get("editions") or (c.get("opts") or {}).get("editions")
        connectors.append({"connector_id": c["_id"], "connector": c.get("name") or c["_id"],
                           "editions": [str(e) for e in offered] if isinstance(offered, list) else None})
        folder = root / "connectors" / c["_id"]
        for part, sink in (("licenses", licenses), ("installBase", installs)):
            path = folder / f"{part}.json"
            if not path.exists():
                continue
            name = f"{display}/connectors/{c['_id']}/{part}.json"
            for n, rec in enumerate(_read_json(path, name, root)):
                if not isinstance(rec, dict):
                    issues.append({"file": name, "record": n, "id": None, "problem": "not an object",
                                   "action": "skipped"})
                    continue
                sink.append((c["_id"], name, n, rec))
    conn = pd.DataFrame(connectors, columns=["connector_id", "connector", "editions"])

    rows = []
    for cid, name, n, rec in licenses:
        if not isinstance(rec.get("_id"), str):
            issues.append({"file": name, "record": n, "id": None, "problem": "license without an _id",
                           "action": "skipped"})
            continue
        get = _typed_reader(rec, "license", name, n, rec["_id"], issues)
        user, opts = get("user", dict) or {}, get("opts", dict) or {}
        stores, store_editions = _stores(opts)
        rows.append({"license_id": rec["_id"], "connector_id": cid, "source": "api",
                     "email": get("user.email", str, user) or get("email", str) or None,
                     "user_id": get("user._id", str, user), "user_name": get("user.name", str, user),
                     "account_id": get("_accountId", str), "integration_id": get("_integrationId", str),
                     "edition": get("opts.connectorEdition", str, opts),
                     "created": get("created", str) or get("createdAt", str), "expires": get("expires", str),
                     "global": bool(get("opts.global", bool, opts) or get("global", bool)),
                     "marked_trial": bool(get("opts.trial", bool, opts) or get("trial", bool)),
                     "stores": stores, "store_editions": store_editions, "file": name, "record": n})
    lic = pd.DataFrame(rows)
    if not lic.empty:
        _drop_bad_dates(lic, {"created": "created", "expires": "expires"}, "license", lic["license_id"], issues)

    base = []
    for cid, name, n, rec in installs:
        get = _typed_reader(rec, "install", name, n, None, issues)
        user = get("user", dict) or {}
        stores = get("stores", (list, int))
        base.append({"connector_id": cid, "integration_id": get("_integrationId", str),
                     "email": get("email", str) or get("user.email", str, user),
                     "user_id": get("_userId", str) or get("user._id", str, user),
                     "stores_installed": len(stores) if isinstance(stores, list) else stores,
                     "account_expires": get("accountExpires", str), "file": name, "record": n})
    inst = pd.DataFrame(base, columns=["connector_id", "integration_id", "email", "user_id", "stores_installed",
                                       "account_expires", "file", "record"])
    _drop_bad_dates(inst, {"account_expires": "accountExpires"}, "install", None, issues)
    return conn, lic, inst


def read_license_list(path: Path, mapping_file: Path | None, connectors: pd.DataFrame,
                      issues: list[dict]) -> pd.DataFrame:
    """Licenses kept by hand: one row each, connector given by id or name."""
    mapping = load_mapping(mapping_file, LICENSE_LIST_FIELDS, {f: f for f in LICENSE_LIST_FIELDS if f != "license_id"})
    table, problems = read_table(path, mapping, LICENSE_LIST_FIELDS)
    for p in problems:
        issues.append({"file": p["file"], "record": p["row"], "id": None,
                       "problem": f"row {p['row']}, column {p['column']!r}: {p['problem']}", "action": p["action"]})
    by_name = dict(zip(connectors["connector"].str.lower(), connectors["connector_id"]))
    ids = set(connectors["connector_id"])
    cid = table["connector"].map(lambda v: v if v in ids else by_name.get(str(v).lower(), v))
    return pd.DataFrame({
        "license_id": table["license_id"].where(table["license_id"].notna(),
                                                "list-row-" + table["row"].astype(str)),
        "connector_id": cid, "source": "list", "email": table["email"], "user_id": None, "user_name": None,
        "account_id": table["account_id"], "integration_id": None, "edition": table["edition"],
        "created": table["created"], "expires": table["expires"], "global": False, "marked_trial": False,
        "stores": table["stores"].fillna(0).astype(int), "store_editions": None, "file": str(path),
        "record": table["row"],
    })


def license_frame(connectors: pd.DataFrame, licenses: pd.DataFrame, installs: pd.DataFrame,
                  as_of: date) -> pd.DataFrame:
    """The `connector_licenses` frame the rules read."""
    if licenses.empty:
        return pd.DataFrame(columns=COLUMNS)
    lic = licenses.copy()
    lic["email"] = lic["email"].astype("string").str.strip().str.lower().astype(object)
    lic["email"] = lic["email"].where(lic["email"].notna() & (lic["email"] != ""), None)
    day = pd.Timestamp(as_of)
    for col in ("created", "expires"):
        stamp = pd.to_datetime(lic[col], errors="coerce", utc=True, format="mixed")
        lic[col] = stamp.dt.tz_localize(None).dt.normalize()
    lic = lic.merge(connectors.rename(columns={"editions": "editions_list"}), on="connector_id", how="left")
    lic["connector"] = lic["connector"].fillna(lic["connector_id"])
    # a global license takes its expiry from the customer's account, where the install base says it
    account_exp = installs.dropna(subset=["integration_id"]).drop_duplicates("integration_id").set_index(
        "integration_id")["account_expires"]
    from_account = pd.to_datetime(lic["integration_id"].map(account_exp), errors="coerce", utc=True,
                                  format="mixed").dt.tz_localize(None).dt.normalize()
    lic["expires_from"] = "license"
    lic.loc[lic["global"], "expires_from"] = "account (global license)"
    lic.loc[lic["global"], "expires"] = from_account[lic["global"]]
    lic["installed"] = lic["integration_id"].notna()
    installed_ids = set(installs["integration_id"].dropna())
    lic["in_install_base"] = lic["integration_id"].isin(installed_ids)
    lic["pending"] = lic["email"].notna() & lic["user_id"].isna() & (lic["source"] == "api")
    lic["days_left"] = (lic["expires"] - day).dt.days.astype("Int64")
    lic["days_ago"] = (day - lic["expires"]).dt.days.astype("Int64")
    lic["age_days"] = (day - lic["created"]).dt.days.astype("Int64")
    lic["live"] = lic["expires"].isna() | (lic["expires"] >= day)  # no known expiry: still live
    span = (lic["expires"] - lic["created"]).dt.days
    lic["trial"] = lic["marked_trial"] | (span <= TRIAL_DAYS).fillna(False)
    lic["editions_offered"] = lic["editions_list"].map(lambda e: ", ".join(e) if isinstance(e, list) else None)
    lic["edition_offered"] = [None if not isinstance(e, list) or ed is None or pd.isna(ed) else ed in e
                              for e, ed in zip(lic["editions_list"], lic["edition"])]
    stores = installs.dropna(subset=["integration_id", "stores_installed"]).drop_duplicates("integration_id")
    lic["stores_installed"] = lic["integration_id"].map(stores.set_index("integration_id")["stores_installed"])
    lic["stores_installed"] = pd.to_numeric(lic["stores_installed"], errors="coerce").astype("Int64")
    lic["stores_short"] = (lic["stores_installed"] - lic["stores"]).clip(lower=0).astype("Int64")
    return lic[COLUMNS].sort_values(["connector_id", "email", "license_id"], na_position="last").reset_index(drop=True)
