"""Python checks: what a condition over one row cannot say, registered by name for rules to use.

A rule refers to a check with `check: NAME`; the check receives the rule's frame (after its
scope) and the rule's parameters, and returns a boolean Series (True where the row alarms) or
a DataFrame with such a column `alarm` and the extra columns it declared in `adds`, which the
rule's `where` and `reason` may then use. Checks work on whole columns, like conditions.

    from auditor.checks import check

    @check("long-names", frame="flows")
    def long_names(frame, params):
        return frame["name"].str.len() > params.get("length", 80)

A `.py` file in a folder given with `--rules` is imported before that folder's rules are read,
so a user's own checks register themselves the same way.
"""

from __future__ import annotations

import importlib.util
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: loading rules needs no pandas
    import pandas as pd

from auditor.common.errors import AuditorError


@dataclass(frozen=True)
class Check:
    name: str
    frame: str
    fn: Callable[[pd.DataFrame, dict[str, Any]], pd.Series | pd.DataFrame]
    adds: frozenset[str]
    origin: str


CHECKS: dict[str, Check] = {}


def check(name: str, *, frame: str, adds: tuple[str, ...] = ()):
    """Register `fn(frame, params)` as the check `name` over `frame`."""

    def register(fn):
        origin = f"{fn.__module__}.{fn.__qualname__}"
        if name in CHECKS and CHECKS[name].origin != origin:
            raise AuditorError(f"check {name!r} is registered twice ({CHECKS[name].origin} and {origin})")
        CHECKS[name] = Check(name, frame, fn, frozenset(adds), origin)
        return fn

    return register


def run_check(name: str, frame: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """The frame with the check's `adds` columns and its answer in `_check`."""
    import pandas as pd
    found = CHECKS[name]
    out = found.fn(frame, params)
    if isinstance(out, pd.Series):
        alarm, extra = out, None
    elif isinstance(out, pd.DataFrame) and "alarm" in out:
        alarm, extra = out["alarm"], out.drop(columns="alarm")
    else:
        raise TypeError(f"check {name} returned {type(out).__name__}, not a Series or a DataFrame with 'alarm'")
    frame = frame.assign(_check=alarm.reindex(frame.index).fillna(False).astype(bool))
    if extra is not None:
        missing = found.adds - set(extra.columns)
        if missing:
            raise TypeError(f"check {name} did not give the column {sorted(missing)[0]!r} it declares")
        frame = frame.assign(**{c: extra[c].reindex(frame.index) for c in found.adds})
    return frame


def forget_user_checks() -> None:
    """Back to the built-in checks only: each loading of rules imports the user's checks anew."""
    for name in [n for n, c in CHECKS.items() if not c.origin.startswith(__name__ + ".")]:
        del CHECKS[name]


def import_checks(path: Path) -> None:
    """Import a user's `.py` file of checks (from a --rules folder)."""
    module = f"auditor_user_checks.{path.stem}_{abs(hash(str(path.resolve()))):x}"
    spec = importlib.util.spec_from_file_location(module, path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except AuditorError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code: say which file, not a traceback
        line = next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename == str(path)), None)
        raise AuditorError(f"{path}" + (f":{line}" if line else "") + f": cannot import ({type(exc).__name__})") from None


# --- built-in checks ---------------------------------------------------------------------------

@check("same-host-other-uri", frame="connections", adds=("other_uris",))
def same_host_other_uri(frame: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """HTTP/REST connections counted as separate endpoints although they reach the same host:
    each distinct base URI is an endpoint of its own, so two paths of one API cost two."""
    import pandas as pd
    keyed = frame[frame["uri_host"].notna() & frame["key"].notna()]
    group = ["account", "environment", "uri_host"]
    distinct = keyed.groupby(group, dropna=False)["key"].transform("nunique")
    split = keyed[distinct > 1]
    # the URIs of each group, gathered in one pass (a Python function per group was far slower)
    uris: dict[tuple, set] = {}
    keys = list(split[group].itertuples(index=False, name=None))
    for key, uri in zip(keys, split["uri"]):
        if isinstance(uri, str):
            uris.setdefault(key, set()).add(uri)
    ordered = {key: sorted(found) for key, found in uris.items()}
    others = pd.Series([", ".join(u for u in ordered.get(key, []) if u != own) for key, own in zip(keys, split["uri"])],
                       index=split.index, dtype=object)
    return pd.DataFrame({"alarm": frame.index.isin(split.index),
                         "other_uris": others.reindex(frame.index)}, index=frame.index)


@check("duplicate-live-license", frame="connector_licenses", adds=("duplicates",))
def duplicate_live_license(frame: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Live licenses of one connector for one user (e-mail) more than once."""
    import pandas as pd
    live = frame[frame["live"].fillna(False).astype(bool) & frame["email"].notna()]
    group = ["connector_id", "email"]
    many = live[live.groupby(group)["license_id"].transform("size") > 1]
    ids = many.groupby(group)["license_id"].agg(lambda s: sorted(s)).rename("_ids").reset_index()
    joined = many[group + ["license_id"]].reset_index().merge(ids, on=group, how="left").set_index("index")
    others = pd.Series([", ".join(i for i in all_ids if i != own) for own, all_ids in zip(joined["license_id"], joined["_ids"])],
                       index=joined.index, dtype=object)
    return pd.DataFrame({"alarm": frame.index.isin(many.index), "duplicates": others.reindex(frame.index)},
                        index=frame.index)
