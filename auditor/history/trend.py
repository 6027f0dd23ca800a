"""Month by month toward the limits, and a plain forecast of when each would be crossed.

One point per account, environment and month (the last audit of the month). The forecast is a
least-squares line through the last `WINDOW` monthly points, stated as such; it is made only
where there are at least `MIN_POINTS` of them, and says in which month the line first goes over
the current entitlement, or that it will not within `HORIZON` months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.common.vocabulary import plural
from auditor.results.model import Forecast, TrendPoint
from auditor.results.rows import frame_rows

MIN_POINTS = 3
WINDOW = 6
HORIZON = 12
METRICS = {"endpoints": ("endpoints_used", "endpoints_entitled"), "billable flows": ("flows_billable", "flows_entitled")}


def _month_index(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def monthly(series: pd.DataFrame) -> pd.DataFrame:
    """The last audit of each month, per account and environment."""
    if series.empty:
        return series
    s = series.assign(month=series["as_of"].str[:7])
    last = s.groupby(["account", "environment", "month"])["as_of"].transform("max") == s["as_of"]
    return s[last].sort_values(["account", "environment", "month"]).reset_index(drop=True)


def forecast(points: pd.DataFrame) -> pd.DataFrame:
    """Per account, environment and metric with at least MIN_POINTS months: the fitted pace and
    the month the line crosses the entitlement."""
    rows = []
    for (account, env), group in points.groupby(["account", "environment"], sort=True):
        if len(group) < MIN_POINTS:
            continue
        recent = group.tail(WINDOW)
        x = np.array([_month_index(m) for m in recent["month"]], dtype=float)
        last_month = int(x[-1])
        for metric, (used_col, ent_col) in METRICS.items():
            used = recent[used_col].astype(float).to_numpy()
            entitled = recent[ent_col].iloc[-1]
            slope, intercept = np.polyfit(x, used, 1)
            if abs(slope) < 0.005:  # flat: said as 0.00, never -0.00
                slope = 0.0
            row = {"account": account, "environment": env, "metric": metric, "months": len(recent),
                   "first": recent["month"].iloc[0], "last": recent["month"].iloc[-1],
                   "used": int(used[-1]), "entitled": None if pd.isna(entitled) else int(entitled),
                   "pace": round(float(slope), 2), "crosses": None}
            if row["entitled"] is None:
                row["verdict"] = "no entitlement known"
            elif used[-1] > row["entitled"]:
                row["verdict"] = f"already over: {int(used[-1])} against {row['entitled']}"
            elif slope <= 1e-9:
                row["verdict"] = f"not rising ({slope:+.2f} a month); no crossing in sight"
            else:
                # first month after the last audit where the line is over the entitlement
                cross = int(np.floor((row["entitled"] - intercept) / slope)) + 1
                cross = max(cross, last_month + 1)
                if cross - last_month <= HORIZON:
                    row["crosses"] = _month_name(cross)
                    row["verdict"] = (f"at {slope:+.2f} a month, over {row['entitled']} in {_month_name(cross)} "
                                      f"({plural(cross - last_month, 'month')})")
                else:
                    row["verdict"] = f"at {slope:+.2f} a month, not over {row['entitled']} within {HORIZON} months"
            rows.append(row)
    columns = ["account", "environment", "metric", "months", "first", "last", "used", "entitled", "pace",
               "crosses", "verdict"]
    return pd.DataFrame(rows, columns=columns)


def trend_section(series: pd.DataFrame) -> dict | None:
    """The `trend` section of a results file, or None where no account has MIN_POINTS months."""
    points = monthly(series)
    if points.empty:
        return None
    fc = forecast(points)
    if fc.empty:
        return None
    keep = points.set_index(["account", "environment"]).index.isin(fc.set_index(["account", "environment"]).index)
    # an environment with no known entitlement makes its column float (5.0): written as the whole
    # numbers they are, each column checked against the model
    return {"method": f"least-squares line through the last {WINDOW} monthly audits (at least {MIN_POINTS}); "
                      f"crossing looked for within {HORIZON} months",
            "points": frame_rows(points[keep], TrendPoint, where="trend.points"),
            "forecast": frame_rows(fc, Forecast, where="trend.forecast")}
