"""The HTML report: one self-contained page rendered with Jinja from a results file.

Autoescaping is always on. The big tables travel as JSON inside the page (with `<`, `>` and `&`
escaped, so nothing in the data can close the script element) and are drawn by the page's own
script a page of rows at a time; the overview chart and the rule summary are plain HTML, readable
without script and in print. `--templates DIR` puts the user's templates first: any built-in
template can be replaced, or extended through its `builtin/` name.
"""

from __future__ import annotations

import math
from pathlib import Path

import jinja2
import orjson
import pandas as pd
from markupsafe import Markup

from auditor.common.errors import AuditorError
from auditor.common.paths import data_dir
from auditor.common.vocabulary import change_counts
from auditor.report.tables import METRIC_WORDS, SEVERITIES, Report, advice_counts, advice_groups, fraction

CHART_ROWS = 50
ADVICE_ROWS = 50  # environments whose advice the page shows; the workbook and the results have all
_JS_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
               ord("\u2028"): "\\u2028", ord("\u2029"): "\\u2029"}


def _environment(templates: Path | None) -> jinja2.Environment:
    builtin = jinja2.FileSystemLoader(str(data_dir("reports")))
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        if not templates.is_dir():
            raise AuditorError(f"{templates}: --templates must be a folder of templates")
        loaders.append(jinja2.FileSystemLoader(str(templates)))
    loaders.append(builtin)
    loader = jinja2.ChoiceLoader([*loaders, jinja2.PrefixLoader({"builtin": builtin})])
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda v: "–" if v is None or pd.isna(v) else f"{v:.0%}"
    env.filters["num"] = lambda v: "–" if v is None or pd.isna(v) else f"{int(v):,}"
    env.filters["noun"] = lambda n, one, many=None: one if n == 1 else (many or one + "s")  # {{ n | noun("row") }}
    return env


def _dataset(frame: pd.DataFrame, columns: dict[str, str] | None = None) -> dict:
    """{columns, rows}: rows as arrays (half the size of objects), missing values as null."""
    if columns:
        frame = frame[list(columns)].rename(columns=columns)
    out = frame.astype(object).where(frame.notna(), None)
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            out[col] = frame[col].dt.strftime("%Y-%m-%d").astype(object).where(frame[col].notna(), None)
    return {"columns": list(out.columns), "rows": out.values.tolist()}


def _findings(findings: pd.DataFrame) -> dict:
    """Fewer, wider columns than the workbook's: the resource in one, the mute as its reason."""
    name = findings["resource name"].fillna("").astype(str)
    rid = findings["resource id"].astype(str)
    resource = findings["resource type"] + " " + name.where(name == rid, name + " (" + rid + ")")
    muted = findings["mute reason"].fillna("").where(findings["muted"], None)
    table = pd.DataFrame({"severity": findings["severity"], "status": findings["status"], "rule": findings["rule"],
                          "account": findings["account"], "environment": findings["environment"],
                          "resource": resource, "reason": findings["reason"], "muted": muted,
                          "_title": findings["title"], "_id": findings["finding id"]})
    return _dataset(table)


def _environments(summary: pd.DataFrame) -> dict:
    """Fewer, wider columns than the workbook's Summary, so that the table reads at a laptop's
    width and on paper: used against entitled in one cell, the unmuted alarms in one."""
    def frac(used, entitled):
        return [fraction(u, e) for u, e in zip(used, entitled)]

    alarms = [", ".join(f"{int(row[s])} {s}" for s in SEVERITIES if row[s]) or "none"
              for row in summary[list(SEVERITIES)].to_dict("records")]
    table = pd.DataFrame({
        "account": summary["account"], "environment": summary["environment"], "plan": summary["plan"],
        "billable flows": frac(summary["billable flows"], summary["flows entitled"]),
        "flows status": summary["flows status"],
        "endpoints": frac(summary["endpoints used"], summary["endpoints entitled"]),
        "endpoints status": summary["endpoints status"],
        "trading partners": frac(summary["trading partners used"], summary["trading partners entitled"]),
        "agents": frac(summary["agents used"], summary["agents entitled"]),
        "over by": _over_by(summary),
        "alarms": alarms, "account-wide": summary["account-wide"], "muted alarms": summary["muted alarms"]})
    return _dataset(table)


def _over_by(summary: pd.DataFrame) -> list[str]:
    """Per environment, what is over its entitlement and by how many, as the results say it
    ('endpoints 3, billable flows 1'); 'none', or '–' where no entitlement is known of any."""
    words = {"flows over by": "billable flows", "endpoints over by": "endpoints",
             "trading partners over by": "trading partners", "agents over by": "on-premise agents"}
    out = []
    for row in summary[list(words)].to_dict("records"):
        over = [f"{words[c]} {int(n)}" for c, n in row.items() if not pd.isna(n) and n > 0]
        known = any(not pd.isna(n) for n in row.values())
        out.append(", ".join(over) if over else ("none" if known else "–"))
    return out


def _endpoint_rows(results: dict) -> dict:
    rows = []
    for acct in results["accounts"]:
        for kind, items in (("endpoint", acct["endpoints"]), ("trading partner", acct["trading_partners"])):
            for ep in items:
                rows.append([acct["account"], ep["environment"], kind, ep["key"], ep["application"], ep["category"],
                             ep["resolved"], len(ep["connections"]), len(ep["flows"]), ep["explain"],
                             ep["connections"], ep["flows"]])
    return {"columns": ["account", "environment", "kind", "key", "application", "category", "resolved",
                        "connections", "flows", "why", "_connections", "_flows"], "rows": rows}


def _lookup(results: dict) -> dict:
    """Names of connections and flows by account, environment and id, for the endpoint details."""
    conns = [[a["account"], c["environment"], c["id"], c["name"], c["type"], c["enabled_flows"]]
             for a in results["accounts"] for c in a["connections"]]
    return {"connections": {"columns": ["account", "environment", "id", "name", "type", "enabled flows"],
                            "rows": conns}}


def _data_json(report: Report) -> Markup:
    data = {
        "environments": _environments(report.summary),
        "findings": _findings(report.findings),
        "endpoints": _endpoint_rows(report.results),
        "flows": _dataset(report.flows),
        "load_issues": _dataset(report.load_issues),
        "mutes": _dataset(report.mutes),
        "changes": _dataset(report.changes),
        "connector_licenses": _dataset(report.connector_licenses),
        "reconciliation": _dataset(report.reconciliation),
        **{f"extra_{n}": _dataset(frame) for n, frame in enumerate(report.extras.values())},
        "forecast": _dataset(report.forecast),
        **_lookup(report.results),
    }
    text = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return Markup(text.translate(_JS_ESCAPES))  # escaped for a script element above


# the overview's bars: (label, used column, entitled column); trading partners and agents only when
# some environment uses or is entitled to them
CHART_METRICS = (("billable flows", "billable flows", "flows entitled"), ("endpoints", "endpoints used", "endpoints entitled"),
                 ("trading partners", "trading partners used", "trading partners entitled"),
                 ("on-premise agents", "agents used", "agents entitled"))


CHART_KEYS = dict(zip((m[0] for m in CHART_METRICS), ("flows", "endpoints", "trading_partners", "agents")))


def _chart_rows(summary: pd.DataFrame, results: dict) -> tuple[list[dict], int, list[str]]:
    """The environments the overview chart shows (all, or the most used when there are many),
    and the metrics it shows; an entitlement with no number says why, as the results do."""
    states = {(a["account"], e["environment"]): {k: (e.get(k) or {}).get("state") for k in CHART_KEYS.values()}
              for a in results["accounts"] for e in a["environments"]}
    metrics = list(CHART_METRICS[:2]) + [
        m for m in CHART_METRICS[2:]
        if (pd.to_numeric(summary[m[1]]).fillna(0) > 0).any() or (pd.to_numeric(summary[m[2]]).fillna(0) > 0).any()]
    rows = summary
    if len(rows) > CHART_ROWS:
        share = rows[["endpoints share", "flows share"]].astype("Float64").max(axis=1).fillna(-1)
        rows = rows.loc[share.sort_values(ascending=False, kind="stable").index[:CHART_ROWS]]
    out = []
    for r in rows.to_dict("records"):
        bars = []
        for label, used_col, ent_col in metrics:
            used = 0 if pd.isna(r[used_col]) else int(r[used_col])
            ent = None if pd.isna(r[ent_col]) else int(r[ent_col])
            top = max(used, ent or 0, 1)
            state = "unknown" if ent is None else ("over" if used > ent else ("at limit" if used == ent and used else ""))
            bars.append({"label": label, "used": used, "entitled": ent,
                         # not on this plan, unlimited, unknown
                         "none": states[r["account"], r["environment"]][CHART_KEYS[label]] or "unknown",
                         "used_w": round(100 * used / top, 1),
                         "ent_x": None if ent is None else round(100 * ent / top, 1),
                         "over": state == "over", "unknown": ent is None, "state": state})
        out.append({"account": r["account"], "environment": r["environment"], "plan": r["plan"], "bars": bars})
    return out, len(summary), [m[0] for m in metrics]


TREND_CHARTS = 12


def _trend_charts(report: Report) -> list[dict]:
    """Small line charts (inline SVG geometry) of the accounts and environments closest to a
    limit: used and entitled per month, and the fitted line carried forward to the crossing."""
    fc, points = report.forecast, report.trend
    if fc.empty:
        return []
    risk = fc.assign(_c=fc["crosses in"].fillna("9999"), _s=fc["used"] / fc["entitled"].where(fc["entitled"] > 0))
    order = risk.sort_values(["_c", "_s"], ascending=[True, False])[["account", "environment"]].drop_duplicates()
    charts = []
    for account, env in order.head(TREND_CHARTS).itertuples(index=False):
        pts = points[(points["account"] == account) & (points["environment"] == env)]
        panels = []
        for metric, used_col, ent_col in (("endpoints", "endpoints used", "endpoints entitled"),
                                          ("billable flows", "billable flows", "flows entitled")):
            f = fc[(fc["account"] == account) & (fc["environment"] == env) & (fc["metric"] == metric)].iloc[0]
            used = [int(v) for v in pts[used_col]]
            ent = [None if pd.isna(v) else int(v) for v in pts[ent_col]]
            months = list(pts["month"])
            extra = 0
            crosses = f["crosses in"] if isinstance(f["crosses in"], str) else None
            if crosses:
                last_y, last_m = (int(x) for x in months[-1].split("-"))
                cy, cm = (int(x) for x in crosses.split("-"))
                extra = (cy - last_y) * 12 + cm - last_m
            n = len(months) + extra
            # a whole number, so that the top tick says the value at the top of the plot exactly
            top = math.ceil(max(used + [e for e in ent if e is not None] + [1]) * 1.15)
            def x(i: int, n: int = n) -> float:  # a 300 x 120 view box; plot area from 30 to 290
                return round(30 + 260 * i / max(n - 1, 1), 1)

            def y(v: float, top: float = top) -> float:
                return round(100 - 85 * v / top, 1)

            panel = {"metric": metric, "verdict": f["forecast"],
                     "used": " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(used)),
                     "entitled": " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(ent) if v is not None),
                     "dots": [{"x": x(i), "y": y(v), "label": f"{months[i]}: {v}"} for i, v in enumerate(used)],
                     "first": months[0], "last": crosses or months[-1], "top": top,
                     # the last entitlement, labelled where its line ends
                     "limit": None if ent[-1] is None else {"y": y(ent[-1]), "label": ent[-1]},
                     "fit": None}
            if extra:
                # the fitted line from the last audit to the crossing, at the fitted pace
                panel["fit"] = f"{x(len(months) - 1)},{y(used[-1])} {x(n - 1)},{y(used[-1] + f['pace a month'] * extra)}"
            panels.append(panel)
        charts.append({"account": account, "environment": env, "panels": panels})
    return charts


def _costs(results: dict) -> list[dict]:
    """With prices: per environment with an overage, its metrics over (what each costs) and its
    total per currency, amounts as the currency writes them ('1,234.50 USD', '5,000 JPY')."""
    if results.get("prices") is None:
        return []
    from auditor.load.prices import money_text as said

    out = []
    for acct in results["accounts"]:
        for env in acct["environments"]:
            cost = env.get("cost") or {}
            if not cost.get("metrics") and not cost.get("unpriced"):
                continue
            out.append({"account": acct["account"], "environment": env["environment"],
                        "metrics": [{"metric": METRIC_WORDS[c["metric"]], "over": c["over"],
                                     "price": said(c["unit_price"]), "cost": said(c["cost"]),
                                     "by": c["priced_by"]} for c in cost.get("metrics", [])],
                        "total": [said(t) for t in cost.get("total", [])],
                        "unpriced": [f"{METRIC_WORDS[m]} ({env[m]['over']} over)" for m in cost.get("unpriced", [])]})
    return out


def _heading(report: Report) -> str:
    """What the page is about: an account audit, a partner's licenses, or NetSuite records."""
    if not report.no_accounts:
        return "License audit"
    if report.results.get("connector_licenses") is not None:
        return "Integration app licenses"
    return "NetSuite integration records"


def render_html(report: Report, templates: Path | None = None) -> str:
    env = _environment(templates)
    findings = report.findings
    alarms = findings[(findings["status"] == "alarm") & ~findings["muted"]]
    by_severity = {s: int((alarms["severity"] == s).sum()) for s in SEVERITIES}
    chart, environments, chart_metrics = _chart_rows(report.summary, report.results)
    counts = {
        "accounts": len(report.results["accounts"]), "environments": environments,
        "over": int(((report.summary["billable flows"] > report.summary["flows entitled"]).fillna(False)
                     | (report.summary["endpoints used"] > report.summary["endpoints entitled"]).fillna(False)
                     | (report.summary["trading partners used"] > report.summary["trading partners entitled"]
                        ).fillna(False)
                     | (report.summary["agents used"] > report.summary["agents entitled"]).fillna(False)).sum()),
        "alarms": len(alarms), "muted": int((findings["muted"]).sum()),
        "skips": int((findings["status"] == "skip").sum()), "errors": int((findings["status"] == "error").sum()),
        "load_issues": len(report.load_issues),
    }
    try:
        template = env.get_template("report.html.j2")
        return template.render(meta=report.meta, counts=counts, by_severity=by_severity, severities=SEVERITIES,
                               chart=chart, chart_limit=CHART_ROWS, chart_metrics=chart_metrics, rules=report.rules.to_dict("records"),
                               inputs=report.inputs.to_dict("records"), data_json=_data_json(report),
                               has_changes="changes" in report.results, since=report.since,
                               headline=(report.results.get("changes") or {}).get("headline", []),
                               changes=change_counts((report.results.get("changes") or {}).get("rows", [])),
                               trend=report.results.get("trend"),
                               trend_charts=_trend_charts(report), trend_limit=TREND_CHARTS,
                               no_accounts=report.no_accounts,
                               has_reconciliation=bool(report.results.get("reconciliation")),
                               has_licenses=report.results.get("connector_licenses") is not None,
                               extras=[(title, "extra-" + str(n), len(frame))
                                       for n, (title, frame) in enumerate(report.extras.items())],
                               heading=_heading(report), recon_rows=len(report.reconciliation),
                               recon_totals=report.reconciliation_totals().to_dict("records"),
                               connector_licenses=len(report.connector_licenses),
                               vendor=report.vendor.to_dict("records"),
                               preview=report.results.get("migration_preview"),
                               advice=advice_groups(report.results), advice_counts=advice_counts(report.results),
                               advice_limit=ADVICE_ROWS,
                               prices=report.results.get("prices"), costs=_costs(report.results))
    except jinja2.TemplateError as exc:
        where = f"{exc.filename}:{exc.lineno}: " if getattr(exc, "filename", None) else ""
        raise AuditorError(f"{where}template error: {exc.message}") from None


def write_html(report: Report, path: Path, templates: Path | None = None) -> None:
    from auditor.common.files import atomic
    text = render_html(report, templates)
    try:
        with atomic(path) as tmp:  # the old report or the new one, never a part; no temporary file left
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AuditorError(f"{path}: cannot write the HTML report ({exc.strerror})") from None
