"""What the commands print: tables, summaries, and the exit code a run ends with."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.cli.options import Progress, echo, quiet, say
from auditor.common.errors import AuditorError
from auditor.common.terminal import printable
from auditor.common.vocabulary import SEVERITIES, SEVERITIES_DOWN, USED, change_counts, plural
from auditor.results.summary import alarm_counts, at_or_over, used

if TYPE_CHECKING:  # the heavy modules are imported where a command needs them: `--help` stays fast
    import pandas as pd

    from auditor.report import Outputs
    from auditor.results.frames import Audit


def finish_run(results: dict, output: Path, fail_on: str, reports: Outputs) -> None:
    """Say what was not read, write the results and the reports, and exit by the findings."""
    from auditor.report import write_reports
    from auditor.results import io as results_io
    skipped = sum(i["action"] != "counted" for i in results["load_issues"])
    notes = len(results["load_issues"]) - skipped
    line = (f"{plural(skipped, 'row or record', 'rows or records')} not read (see load_issues)." if skipped
            else "Every row and record was read.")
    say(line + (f" {notes:,} read with a note (see load_issues)." if notes else ""))
    results_io.write(results, output)
    say(f"Results written to {results_io.shown(output)}")
    if reports.any():
        for line in write_reports(results, reports, Progress()):
            say(line)
    exit_for(results["findings"], fail_on)


def match_account(name: str | None, names) -> str | None:
    """--account NAME as the audit spells it: the name itself, else the one name that matches it
    ignoring case; None when none does (the caller says which there are). Two or more that match
    ignoring case (and none exactly) are an error naming them."""
    if name is None:
        return None
    names = set(names)
    if name in names:
        return name
    alike = sorted(n for n in names if n.casefold() == name.casefold())
    if len(alike) > 1:
        raise AuditorError(f"--account {name!r} matches {', '.join(repr(n) for n in alike)} when case is "
                           "ignored: give the name with its capitals")
    return alike[0] if alike else None


def money(amount, currency) -> str:
    """An amount as finance reads it: '900.00 EUR', thousands separated; '-' for nothing."""
    import pandas as pd
    if amount is None or pd.isna(amount):
        return "-"
    cur = "" if currency is None or pd.isna(currency) or currency in ("", "-") else f" {currency}"
    return f"{float(amount):,.2f}{cur}"


ADVICE_SHOWN = 20  # environments whose advice the terminal says; the reports and the results have all


def advice_lines(audit: Audit) -> list[str]:
    """After the summary: each environment over or near a limit (over ones first), its note and its
    options, each with what it saves and the whatif arguments that apply it; one line each, data
    escaped. Nothing when every environment is within its limits or of unknown entitlement."""
    import shlex

    from auditor.report.tables import money_text, saves_text
    envs = audit.environments
    groups = [(acct, env, adv) for acct, env, adv in zip(envs["account"], envs["environment"], audit.advice)
              if adv["status"] in ("over", "near")]
    if not groups:
        return []
    groups.sort(key=lambda g: g[2]["status"] != "over")
    lines = ["What to do (advice; every option's evidence is in the results file and the reports):"]
    for acct, env, adv in groups[:ADVICE_SHOWN]:
        lines.append(printable(f"Advice for {acct} {env} ({adv['status']}): {adv['note']}", newlines=False))
        seen = set()
        for o in adv["options"]:
            if o["action"] in seen:  # one set of flows may answer two limits: said once
                continue
            seen.add(o["action"])
            said = f"  - {o['action']}"
            if o["kind"] == "consolidate":
                said += f" (saves {saves_text(o)})"
            if not o["enough"]:
                said += " (not enough alone)"
            if o.get("money"):
                said += f" · {money_text(o)}"
            if o["whatif"]:
                said += f" · auditor whatif ... {shlex.join(o['whatif'])}"
            lines.append(printable(said, newlines=False))
    if len(groups) > ADVICE_SHOWN:
        lines.append(f"... and {plural(len(groups) - ADVICE_SHOWN, 'environment')} more over or near a limit "
                     "(see the reports or the results file).")
    return lines


def cost_lines(results: dict) -> list[str]:
    """With prices: one line per environment over an entitlement, what its overage costs per
    currency ('Globex Corporation production: 415.00 USD a month over (endpoints 3 x 125.00 USD,
    ...)'); none without prices. Amounts of different currencies are never added together."""
    prices = results.get("prices")
    if prices is None:
        return []
    from auditor.load.prices import money_text as said

    lines = []
    for acct in results["accounts"]:
        for env in acct["environments"]:
            cost = env.get("cost") or {}
            if not cost.get("total") and not cost.get("unpriced"):
                continue
            words = {"flows": "billable flows", "endpoints": "endpoints", "trading_partners": "trading partners",
                     "agents": "on-premise agents"}
            parts = [f"{words[c['metric']]} {c['over']:,} over x {said(c['unit_price'])}" for c in cost["metrics"]]
            parts += [f"{words[m]} {env[m]['over']:,} over, not priced" for m in cost.get("unpriced", [])]
            total = " + ".join(said(t) for t in cost["total"])
            lines.append(f"{acct['account']} {env['environment']}: " + (
                f"{total} a {cost['per']} ({'; '.join(parts)})" if total else "; ".join(parts)))
    if not lines:
        return [f"Overage at the prices of {prices['file']}: none (no environment is over an entitlement)."]
    return [f"Overage at the prices of {prices['file']}:", *lines]


def _cell(value) -> str:
    """A value as a table shows it: yes/no, '-' for nothing, whole numbers without '.0'."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    # one line, whatever the value holds: a newline in a name must not break the row into false ones
    return "-" if text in ("<NA>", "NaT", "nan", "None") else printable(text, newlines=False)


def text_table(columns: list[str], rows: list[list], width: int | None = None, numeric: set[int] = frozenset()) -> str:
    """Columns aligned with two spaces between; numbers right-aligned. With `width` (a terminal's),
    the widest text columns are wrapped onto more lines until the table fits: nothing is cut."""
    import textwrap
    cells = [[_cell(v) for v in row] for row in rows]
    natural = [max([len(c)] + [len(line) for r in cells for line in r[i].splitlines() or [""]])
               for i, c in enumerate(columns)]
    widths = list(natural)
    if width:
        floor = [max(len(c), 8) if i not in numeric else natural[i] for i, c in enumerate(columns)]
        while sum(widths) + 2 * (len(widths) - 1) > width:
            i = max(range(len(widths)), key=lambda k: widths[k] - floor[k])
            if widths[i] <= floor[i]:
                break  # cannot narrow further: the terminal wraps what is left
            widths[i] -= 1
    out = []
    for row in [columns] + cells:
        parts = [textwrap.wrap(v, widths[i], break_long_words=True, break_on_hyphens=False) or [""]
                 if len(v) > widths[i] else [v] for i, v in enumerate(row)]
        for n in range(max(len(p) for p in parts)):
            line = [(p[n] if n < len(p) else "") for p in parts]
            out.append("  ".join(t.rjust(widths[i]) if i in numeric else t.ljust(widths[i])
                                 for i, t in enumerate(line)).rstrip())
    return "\n".join(out)


def terminal_width() -> int | None:
    """The terminal's width when standard output is one; None (no wrapping) otherwise."""
    import shutil
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def snake(header: str) -> str:
    """A column's header as a JSON key: 'enabled flows' -> 'enabled_flows', 'account-wide' -> 'account_wide'."""
    import re
    return re.sub(r"[^0-9A-Za-z]+", "_", header).strip("_").lower() or "_"


def _json_value(value):
    """What the JSON encoder does not know: numpy scalars and arrays (list cells), dates."""
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 and getattr(value, "minute", 0) == 0 \
            else value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_records(frame: pd.DataFrame) -> str:
    """A table as a JSON array of records: snake_case keys, null for nothing, whole numbers as
    integers, a cell holding a list as a JSON array, dates as YYYY-MM-DD."""
    import json

    import pandas as pd
    keys = [snake(str(c)) for c in frame.columns]
    records = [{k: None if v is None or (not hasattr(v, "__len__") and pd.isna(v)) else v for k, v in zip(keys, row)}
               for row in frame.itertuples(index=False, name=None)]
    return json.dumps(records, indent=2, ensure_ascii=False, default=_json_value)


def emit(frame: pd.DataFrame, fmt: str, err: bool | None = None) -> None:
    """A table on standard output: aligned text, CSV, or JSON (see json_records)."""
    from auditor.common.safe import csv_safe
    if fmt == "csv":
        # CRLF as RFC 4180 says; it also makes the writer quote a field holding a lone \r
        echo(csv_safe(frame).to_csv(index=False, lineterminator="\r\n"), nl=False, err=err)
    elif fmt == "json":
        echo(json_records(frame), err=err)
    else:
        echo(table_text(frame), err=err)


def table_text(frame: pd.DataFrame, right: tuple[str, ...] = ()) -> str:
    """A table as the terminal shows it: columns aligned, numbers (and the `right` columns, such
    as amounts written with their currency) right-aligned, wrapped to the terminal's width."""
    if frame.empty:
        return "(none)"
    numeric = {i for i, c in enumerate(frame.columns)
               if frame[c].dtype.kind in "iuf" or str(frame[c].dtype) in ("Int64", "Float64") or c in right}
    rows = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return text_table([str(c) for c in frame.columns], rows, terminal_width(), numeric)


def emit_rows(rows: list[dict], columns: list[str], fmt: str) -> None:
    """Small plain tables (no pandas, so commands such as `rules list` start fast): CSV with
    formula-safe cells, JSON records, or text columns aligned left."""
    if fmt == "csv":
        import csv
        import io

        from auditor.common.safe import neutral
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180, as `emit`
        writer.writerow(columns)
        writer.writerows([neutral(row[c]) for c in columns] for row in rows)
        echo(out.getvalue(), nl=False)
    elif fmt == "json":
        import json
        echo(json.dumps([{c: row[c] for c in columns} for row in rows], indent=2, ensure_ascii=False))
    elif not rows:
        echo("(none)")
    else:
        echo(text_table(columns, [[row[c] for c in columns] for row in rows], terminal_width()))


def unmuted_alarms(findings: pd.DataFrame) -> pd.Series:
    """Per finding: an alarm nobody muted (what the summary counts and the exit code is decided on)."""
    return (findings["status"] == "alarm") & ~findings["muted"].astype(bool)


LABELS = {"flows": "billable flows", "endpoints": "endpoints", "trading_partners": "trading partners",
          "agents": "agents"}  # what the terminal calls what each metric's entitlement limits


def summary_table(accounts: list[dict], findings: Iterable[Mapping], numbers: bool = False) -> pd.DataFrame:
    """One row per account and environment of the results' `accounts`: used against entitled
    ("6 / 10"; with `numbers`, in columns of their own, for CSV and JSON) and the unmuted alarms by
    severity (`findings`: those the results file holds)."""
    import pandas as pd

    from auditor.report.tables import fraction
    envs = [(a, e) for a in accounts for e in a["environments"]]
    tally = alarm_counts(findings)
    table = pd.DataFrame({"account": [a["account"] for a, _ in envs], "environment": [e["environment"] for _, e in envs],
                          "plan": [a["plan"] for a, _ in envs]})
    for metric in USED:
        label = LABELS[metric]
        usage = [(used(e, metric), (e.get(metric) or {}).get("entitled"), e.get("license_expired")) for _, e in envs]
        if numbers:
            table[label if metric == "flows" else f"{label} used"] = pd.array([u for u, _, _ in usage], dtype="Int64")
            table[f"{label.replace('billable ', '')} entitled"] = pd.array([n for _, n, _ in usage], dtype="Int64")
        elif metric != "agents" or any((u or 0) > 0 or (n or 0) > 0 for u, n, _ in usage):
            # an entitlement of a license that has expired is no current one: said beside it
            table[label] = [fraction(u, n) + (" expired" if lapsed and n is not None else "") for u, n, lapsed in usage]
    if numbers:
        table["license expired"] = [e.get("license_expired") for _, e in envs]
    for sev in SEVERITIES_DOWN:
        table[sev] = [tally.get((a["account"], e["environment"]), {}).get(sev, 0) for a, e in envs]
    first = [i == 0 for a in accounts for i in range(len(a["environments"]))]
    wide = {a: sum(n for k, n in counts.items() if k != "muted") for (a, e), counts in tally.items() if e is None}
    table["account-wide"] = [wide.get(a["account"], 0) if f else 0 for (a, _), f in zip(envs, first)]
    return table


SUMMARY_ROWS = 20  # environments the summary lists in full; past that, those over or at a limit


def attention(accounts: list[dict]) -> list[bool]:
    """Per environment row: over or at a limit in any metric, as the overview chart of the HTML
    report marks them."""
    return [at_or_over(e) for a in accounts for e in a["environments"]]


def totals_lines(accounts: list[dict], findings: Iterable[Mapping], shown: int) -> list[str]:
    """What a summary of many environments says under the rows it shows: the totals of all of
    them, and how to see the rest."""
    alarms: dict[str, int] = {}
    for counts in alarm_counts(findings).values():
        for sev, n in counts.items():
            alarms[sev] = alarms.get(sev, 0) + n
    by = ", ".join(f"{alarms.get(s, 0):,} {s}" for s in SEVERITIES_DOWN)
    envs = [e for a in accounts for e in a["environments"]]
    rows, rest = len(envs), len(envs) - shown
    shown_words = (f"Shown: {'the one environment' if shown == 1 else f'the {shown:,} environments'} over or at "
                   f"a limit; {'the other one is' if rest == 1 else f'the other {rest:,} are'} within their limits "
                   "or have none known." if shown else
                   "No environment is over or at a limit it is known to have.")
    total = ", ".join(plural(sum(used(e, metric) or 0 for e in envs), LABELS[metric][:-1], LABELS[metric])
                      for metric in USED)
    return [
        f"{plural(len(accounts), 'account')}, {plural(rows, 'environment')}: {total}; "
        f"{plural(sum(n for s, n in alarms.items() if s != 'muted'), 'unmuted alarm')} ({by}).",
        f"{shown_words} --format table lists every environment (--format csv|json as data).",
    ]


def show_summary(accounts: list[dict], findings: list[dict], fmt: str) -> None:
    """The summary of an audit: as data (--format csv|json, on standard output), or for a person
    (not with --quiet): every environment, or past SUMMARY_ROWS of them those over or at a limit
    and the totals."""
    if fmt in ("csv", "json"):
        return emit(summary_table(accounts, findings, numbers=True), fmt, err=False)
    if quiet():
        return
    table = summary_table(accounts, findings)
    if fmt == "summary" and len(table) > SUMMARY_ROWS:  # a partner's thousands: what needs a look
        hit = attention(accounts)
        if any(hit):
            emit(table[hit], "table")
        for line in totals_lines(accounts, findings, sum(hit)):
            say(line)
    else:
        emit(table, "table")


def change_lines(results: dict) -> list[str]:
    """What changed since each account's last recorded audit, when the history is on: how many
    changes, the findings still open, and why each count changed (the audit log's headline)."""
    if "changes" not in results:
        return []
    since = ", ".join(sorted(set(results["changes"]["since"].values())))
    changed, still = change_counts(results["changes"]["rows"])
    return [f"{plural(changed, 'change')} since the last recorded audit ({since}); "
            f"{plural(still, 'finding')} still open.", *(f"  {line}" for line in results["changes"].get("headline", []))]


def finding_records(findings: pd.DataFrame) -> list[dict]:
    """The columns of the findings frame the summaries count, as records."""
    return findings[["account", "environment", "severity", "status", "muted"]].to_dict("records")


def skipped_summary(audit: Audit) -> str:
    issues = audit.load_issues
    skipped = issues[issues["action"] == "skipped"]
    unread = issues[issues["action"] == "not read"]
    files = (f" {plural(len(unread), 'file or folder', 'files or folders')} in the snapshots "
             f"{'was' if len(unread) == 1 else 'were'} not read (see load_issues)." if len(unread) else "")
    if skipped.empty:
        return f"All records read were counted ({plural(len(issues), 'load note')}).{files}"
    # group by kind of problem: "... as record 3 of x.json", ", not a string" say which one exactly
    kinds = skipped["problem"].str.replace(r" as record \d+ of .*$|, not .*$", "", regex=True).value_counts()
    why = "; ".join(f"{n:,} {p}" for p, n in kinds.items())
    return f"{plural(len(skipped), 'record')} skipped: {why}. See load_issues in the results file.{files}"


def mutes_summary(audit: Audit) -> str:
    m = audit.mutes
    line = (f"{plural(int(audit.findings['muted'].sum()), 'finding')} muted by "
            f"{plural(int((m['status'] == 'active').sum()), 'mute')}.")
    for status in ("expired", "unused"):
        gone = m[m["status"] == status]
        if not gone.empty:
            line += f" {len(gone):,} {status}: {', '.join(gone['mute'])}."
    return line


def license_table(licenses: pd.DataFrame) -> str:
    """A partner's connector licenses per connector: live, expired, and all of them."""
    import pandas as pd
    live = licenses["live"].astype(bool)
    table = pd.DataFrame({"connector": licenses["connector"], "live": live.astype(int), "expired": (~live).astype(int)})
    table = table.groupby("connector", sort=True)[["live", "expired"]].sum().reset_index()
    table["licenses"] = table["live"] + table["expired"]
    return table_text(table)


def reconciliation_table(results: dict) -> str:
    """The reconciliation's totals by category, status and currency (as the reports total them),
    amounts as finance reads them ('900.00 EUR'), what is at stake first."""
    from auditor.report.tables import reconciliation_frame, reconciliation_totals
    totals = reconciliation_totals(reconciliation_frame(results))
    if totals.empty:
        return table_text(totals)
    order = {"over-billing": 0, "revenue leak": 1}
    totals = totals.sort_values(["category", "status"], key=lambda c: c.map(order).fillna(9) if c.name == "category"
                                else c, kind="stable")
    shown = totals[["category", "status", "rows"]].assign(
        billed=[money(a, c) for a, c in zip(totals["billed"], totals["currency"])],
        **{"at stake": [money(a, c) for a, c in zip(totals["at stake"], totals["currency"])]})
    return table_text(shown, right=("billed", "at stake"))


def ns_records_table(records: pd.DataFrame) -> str:
    """NetSuite integration records per account and environment: how many, how many enabled."""
    table = records.groupby(["account", "environment"], sort=True).agg(
        records=("name", "size"), enabled=("enabled", "sum")).reset_index()
    table["enabled"] = table["enabled"].astype(int)
    return table_text(table)


def exit_for(findings: pd.DataFrame | list[dict], fail_on: str) -> None:
    """Exit 3 if a rule failed, 1 if an unmuted alarm is at or above fail_on (never: not for alarms)."""
    import pandas as pd
    f = pd.DataFrame(findings, columns=["status", "muted", "severity"]) if isinstance(findings, list) else findings
    errors = int((f["status"] == "error").sum())
    if errors:
        echo(f"{plural(errors, 'rule evaluation')} failed (status error in the results).", err=True)
        sys.exit(3)
    if fail_on == "never":
        return
    failing = int((unmuted_alarms(f) & f["severity"].map(SEVERITIES.index).ge(SEVERITIES.index(fail_on))).sum())
    if failing:
        echo(f"{plural(failing, 'unmuted alarm')} at or above {fail_on}.", err=True)
        sys.exit(1)



def preview_lines(preview: dict) -> list[str]:
    """The migration preview in the terminal: per account and environment, each count today ->
    after the migration against its entitlement, where it changes; what is copied; the assumptions."""
    lines = ["Migration preview (multi-environment license), today -> after:"]
    for account in preview["accounts"]:
        if not account["previewed"]:
            lines.append(printable(f"  {account['account']}: not previewed: {account['note']}"))
            continue
        for env in account["environments"]:
            parts = [f"{USED_WORDS.get(m['metric'], m['metric'])} {m['today']} -> {m['after']}"
                     f"{'' if m['entitled'] is None else ' / ' + str(m['entitled'])} ({m['change']})"
                     for m in env["metrics"] if m["today"] or m["after"]]
            lines.append(printable(f"  {account['account']} {env['environment']}: "
                                   + ("; ".join(parts) if parts else "nothing counted")))
        if account["copied"]:
            shown = ", ".join(f"{r['type']} {r['name'] or r['id']}" for r in account["copied"][:5])
            more = len(account["copied"]) - 5
            lines.append(printable(f"  {account['account']}: {plural(len(account['copied']), 'resource')} both "
                                   f"environments use, copied into each: {shown}"
                                   + (f" and {more} more" if more > 0 else "")))
    lines.append("Assumptions: " + " ".join(preview["assumptions"]))
    return lines


USED_WORDS = {"flows": "billable flows", "endpoints": "endpoints", "trading_partners": "trading partners",
              "agents": "agents"}
