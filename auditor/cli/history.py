"""Commands on the recorded audits: history, diff."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from auditor.cli.app import cli
from auditor.cli.options import echo, examples, history_option, report_options, report_outputs, say
from auditor.cli.render import emit, match_account
from auditor.common.errors import AuditorError


def _store(ctx, history_path: Path | None) -> Path:
    from auditor.history import store as history
    return history_path or ctx.obj.history.path or history.default_path()


@examples('auditor history', 'auditor history --account "Acme Retail" --format csv')
@cli.command("history")
@history_option
@click.option("--account", metavar="NAME",
              help="Only this account: its name, in any case when only one name matches it so.")
@click.option("--env", metavar="ENV", help="Only this environment.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_context
def history_cmd(ctx, history_path, account, env, fmt):
    """The recorded audits: per account, environment and month (the last audit of the month),
    billable flows and endpoints against entitlements and the unmuted alarms."""
    import pandas as pd

    from auditor.history import store as history
    from auditor.report.tables import fraction
    store = _store(ctx, history_path)
    if not store.exists():
        raise AuditorError(f"{store}: no history yet (record an audit with 'auditor audit --record')")
    known = history.places(store)
    account = match_account(account, {a for a, _ in known}) or account
    if account is not None and account not in {a for a, _ in known}:
        raise AuditorError(f"--account {account!r}: no audit of it recorded in {store} "
                           f"(accounts: {', '.join(sorted({a for a, _ in known}))})")
    envs = sorted({e for a, e in known if account in (None, a)})
    if env is not None and env not in envs:
        raise AuditorError(f"--env {env!r}: no such environment recorded (environments: {', '.join(envs)})")
    frame = history.summary(store, account, env)
    if frame.empty:
        return emit(frame, fmt)
    table = pd.DataFrame({
        "account": frame["account"], "month": frame["month"], "audit date": frame["as_of"],
        "environment": frame["environment"]})
    if fmt == "table":  # "6 / 10" reads well; a CSV or JSON consumer gets the numbers apart
        table["billable flows"] = [fraction(u, e) for u, e in zip(frame["flows_billable"], frame["flows_entitled"])]
        table["endpoints"] = [fraction(u, e) for u, e in zip(frame["endpoints_used"], frame["endpoints_entitled"])]
    else:
        for col, source in (("billable flows", "flows_billable"), ("flows entitled", "flows_entitled"),
                            ("endpoints used", "endpoints_used"), ("endpoints entitled", "endpoints_entitled")):
            table[col] = pd.to_numeric(frame[source]).astype("Int64")
    table["alarms"] = frame["alarms"]
    table["audits in month"] = frame["audits_in_month"]
    emit(table, fmt)


def results_or_recorded(ctx, which: str, account: str | None, history_path: Path | None) -> dict:
    """A results file ("-": standard input), or the audits recorded on a date (YYYY-MM-DD) in the
    history; with `account`, that account's part."""
    from auditor.history import store as history
    from auditor.history.diff import subset
    from auditor.results import io as results_io
    path = Path(which)
    try:
        day = date.fromisoformat(which)
    except ValueError:
        day = None
    # "-": standard input; a name with a suffix is a file, and what keeps it from being read is said
    if which == "-" or path.is_file() or (day is None and path.suffix):
        doc = results_io.load_json(path)
    elif day is None:
        raise AuditorError(f"{which}: neither a results file nor a date (YYYY-MM-DD) of a recorded audit")
    else:
        store = _store(ctx, history_path)
        if not store.exists():
            raise AuditorError(f"{store}: no history to take {which} from")
        account = match_account(account, {a for a, _ in history.places(store)}) or account
        doc = history.load(store, day.isoformat(), account)
    if account is not None:
        names = sorted(a["account"] for a in doc["accounts"])
        account = match_account(account, names) or account
        if not names:
            raise AuditorError(f"{which}: --account {account!r}: this run audited no integrator.io account "
                               "(a partner's licenses or NetSuite records), so it has no account to take")
        if account not in names:
            raise AuditorError(f"{which}: no account {account!r} in it (accounts: {', '.join(names)})")
        doc = subset(doc, account)
    return doc


@examples('auditor diff 2026-10-31 2026-11-30 --account "Acme Retail"', 'auditor diff october.json november.json --html changes.html')
@cli.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--account", metavar="NAME",
              help="Only this account (needed to pick one account's audit on a date); any case when only one "
                   "name matches it so.")
@history_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--changes-only", is_flag=True, help="Leave out the findings still open in both.")
@click.option("--all-entries", is_flag=True,
              help="Also list the audit-log entries between the two audits that changed nothing counted "
                   "(kind 'audit log').")
@report_options
@click.pass_context
def diff_cmd(ctx, old, new, account, history_path, fmt, changes_only, all_entries, html, xlsx, csv_dir, templates):
    """What changed from OLD to NEW: two results files, or two dates of recorded audits.

    Endpoints added and removed (with the connections and flows that make them count), flows
    that became billable or stopped, usage and entitlement changes, findings new, resolved and
    still open (by finding id), licenses added, removed, renewed and expired; of a partner's
    licenses or NetSuite records, their rows added, removed and changed. Two results made under
    another policy, profile or rules, or NEW older than OLD, are compared with a warning that
    says so. With --html / --xlsx / --csv, the reports of NEW with a Changes section and sheet.

    Where either audit read the account's audit log (audit.json), each change of a count says
    its cause (column cause, with the ids of the entries): who created, deleted, enabled,
    disabled, repointed or changed the flows, connections, exports, imports and licenses
    involved, when and from where, with the field's old and new value (secrets masked), from
    the entries dated from OLD's audit day to NEW's; a change no entry explains says so. The
    headline, one line per metric whose count changed, is said first.
    """
    import pandas as pd

    from auditor.history.diff import COLUMNS, caveats, changes_section, run_kind
    from auditor.report import write_reports
    before, after = (results_or_recorded(ctx, which, account, history_path) for which in (old, new))
    if run_kind(before) != run_kind(after):
        raise AuditorError(f"{old} holds {run_kind(before)} and {new} {run_kind(after)}: nothing to compare")
    for note in caveats(before, after):
        echo(f"Warning: {note}", err=True)
    section = changes_section([(before, after)], all_entries)
    if changes_only:
        section["rows"] = [r for r in section["rows"] if r["change"] != "still open"]
    if fmt == "table":
        for line in section["headline"]:
            say(line)
    frame = pd.DataFrame(section["rows"], columns=COLUMNS)
    if fmt != "json":  # a cell each: the entries' ids said in one, and no column of causes where none is said
        frame["entries"] = frame["entries"].map(" ".join)
        if fmt == "table":
            frame = frame.drop(columns=[c for c in ("cause", "entries") if not frame[c].astype(bool).any()])
    if fmt == "table" and not (frame["change"] != "still open").any():
        open_ = len(frame)
        say(f"No changes from {before['as_of']} to {after['as_of']}" +
            (f"; {open_} finding{'s' if open_ != 1 else ''} still open:" if open_ else "."))
    if fmt != "table" or not frame.empty:
        emit(frame, fmt)
    out = report_outputs(html, xlsx, csv_dir, templates)
    if out.any():
        for line in write_reports({**after, "changes": section}, out):
            echo(line, err=fmt != "table")

