"""The product as a user meets it at the shell (issue 16): mistakes are errors that list what
would have been right, never a quiet run of nothing."""

from __future__ import annotations

import pytest
from conftest import flow, write_snapshot

ACCOUNTS = "Acme Retail, Globex Corporation, Hooli, Initech, Umbrella Health"


@pytest.mark.parametrize("args,message", [
    (("audit", "--sample", "--only", "nope"), "--only 'nope': no rule this command runs has that id or tag."),
    (("audit", "--sample", "--skip", "tag:nope"), "--skip 'tag:nope': no rule this command runs"),
    (("audit", "--sample", "--only", "connector-license-expiring"), "--only 'connector-license-expiring': no rule"),
    (("licenses", "--sample", "--only", "license-expired"), "--only 'license-expired': no rule this command runs"),
    (("ns-records", "--sample", "--skip", "endpoints"), "--skip 'endpoints': no rule this command runs"),
])
def test_a_rule_selector_that_matches_nothing_is_an_error_listing_the_rules(run_cli, args, message):
    run = run_cli(*args)
    assert run.exit_code == 2 and message in run.stderr, run.stderr
    assert "Rules: " in run.stderr and "Tags: " in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_a_rule_selector_of_the_command_still_selects(run_cli):
    run = run_cli("audit", "--sample", "--only", "tag:agents", "--fail-on", "never")
    assert run.exit_code == 0 and "· 2 rules ·" in run.stdout


@pytest.mark.parametrize("command", ["endpoints", "flows"])
def test_an_unknown_account_or_environment_lists_the_known_ones(run_cli, command):
    run = run_cli(command, "--sample", "--account", "Acme")
    assert run.exit_code == 2
    assert run.stderr.strip() == f"Error: --account 'Acme': no such account in this audit (accounts: {ACCOUNTS})"
    run = run_cli(command, "--sample", "--account", "Initech", "--env", "staging")
    assert run.stderr.strip() == "Error: --env 'staging': no such environment in Initech (environments: production, sandbox)"
    assert run_cli(command, "--sample", "--env", "staging").exit_code == 0  # Globex has one


def test_history_and_diff_name_what_is_recorded(run_cli, tmp_path):
    store = tmp_path / "h.sqlite"
    run_cli("audit", "--sample", "--record", "--history", store, "--fail-on", "never", "-o", tmp_path / "r.json")
    run = run_cli("history", "--history", store, "--account", "acme")
    assert run.exit_code == 2 and f"(accounts: {ACCOUNTS})" in run.stderr
    run = run_cli("history", "--history", store, "--env", "prod")
    assert run.exit_code == 2 and "(environments: production, sandbox, staging)" in run.stderr
    run = run_cli("diff", "2026-10-31", "2026-11-30", "--history", store)
    assert run.exit_code == 2 and "no audit of any account recorded for 2026-10-31 (recorded: 2026-11-30)" in run.stderr
    run = run_cli("diff", tmp_path / "r.json", tmp_path / "r.json", "--account", "acme")
    assert run.exit_code == 2 and f"no account 'acme' in it (accounts: {ACCOUNTS})" in run.stderr


@pytest.mark.parametrize("command", ["audit", "licenses", "ns-records"])
def test_dash_output_writes_the_results_to_standard_output_and_says_the_rest_on_standard_error(run_cli, command):
    import json
    run = run_cli(command, "--sample", "-o", "-", "--fail-on", "never", output=False)
    assert run.exit_code == 0, run.stderr
    results = json.loads(run.stdout)  # nothing else on standard output
    assert results["schema_version"] == 2 and "Results written to standard output" in run.stderr


def test_dash_input_reads_a_results_file_from_standard_input(run_cli, tmp_path):
    from click.testing import CliRunner

    from auditor.cli import cli
    results = run_cli("audit", "--sample", "-o", "-", "--fail-on", "never", output=False).stdout
    run = CliRunner().invoke(cli, ["report", "-", str(tmp_path / "r.html")], input=results)
    assert run.exit_code == 0 and (tmp_path / "r.html").exists(), run.output
    run = CliRunner().invoke(cli, ["report", "-", str(tmp_path / "r.html")], input="not json")
    assert run.exit_code == 2 and "standard input: not valid JSON at line 1" in run.stderr
    (tmp_path / "a.json").write_text(results)
    run = CliRunner().invoke(cli, ["diff", str(tmp_path / "a.json"), "-", "--format", "csv"], input=results)
    assert run.exit_code == 0 and run.stdout.startswith("account,environment,kind,change")


def test_findings_still_open_are_not_counted_as_changes(run_cli, tmp_path):
    store = tmp_path / "h.sqlite"
    run_cli("audit", "--sample", "--as-of", "2026-11-29", "--record", "--history", store, "--fail-on", "never")
    run = run_cli("audit", "--sample", "--history", store, "--fail-on", "never", "--html", tmp_path / "r.html")
    assert "0 changes since the last recorded audit (2026-11-29); 35 findings still open." in run.stdout
    assert "0 changes since the previous audit (and 35 findings still open, listed too)" in (tmp_path / "r.html").read_text()


def test_history_as_csv_and_json_holds_numbers_not_fractions(run_cli, tmp_path):
    import csv
    import io
    import json
    store = tmp_path / "h.sqlite"
    run_cli("audit", "--sample", "--record", "--history", store, "--fail-on", "never")
    rows = list(csv.DictReader(io.StringIO(run_cli("history", "--history", store, "--format", "csv").stdout)))
    globex = next(r for r in rows if r["account"] == "Globex Corporation" and r["environment"] == "production")
    assert (globex["billable flows"], globex["flows entitled"], globex["endpoints used"],
            globex["endpoints entitled"]) == ("4", "3", "6", "3")
    initech = next(r for r in json.loads(run_cli("history", "--history", store, "--format", "json").stdout)
                   if r["account"] == "Initech" and r["environment"] == "production")
    assert (initech["billable_flows"], initech["endpoints_entitled"]) == (3, None)
    table = run_cli("history", "--history", store).stdout
    assert "4 / 3" in table and "3 / -" in table


def test_counts_in_sentences_agree_with_their_number():
    import pandas as pd

    from auditor.common.conditions import render
    frame = pd.DataFrame({"n": [1, 16, 0, 1.0]})
    assert render("in {n:@day}", frame).tolist() == ["in 1 day", "in 16 days", "in 0 days", "in 1 day"]


@pytest.mark.parametrize("command,tables", [
    ("licenses", {"connector_licenses", "reconciliation", "reconciliation_totals", "findings", "rules", "load_issues"}),
    ("ns-records", {"ns_records", "ns_links", "findings", "rules", "load_issues"}),  # no mutes: no mutes.csv
])
def test_partner_and_netsuite_csv_hold_their_own_tables(run_cli, tmp_path, command, tables):
    import csv
    run = run_cli(command, "--sample", "--csv", tmp_path / "csv", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    assert {p.stem for p in (tmp_path / "csv").iterdir()} == tables  # no empty account tables
    main = "connector_licenses" if command == "licenses" else "ns_records"
    rows = list(csv.DictReader((tmp_path / "csv" / f"{main}.csv").open(encoding="utf-8")))
    assert len(rows) == len(run.results[main])


def test_report_rebuilds_the_workbook_byte_for_byte(run_cli, tmp_path):
    import time
    run_cli("audit", "--sample", "-o", tmp_path / "r.json", "--fail-on", "never", "--xlsx", tmp_path / "a.xlsx",
            "--html", tmp_path / "a.html")
    time.sleep(1.1)  # a workbook stamped with the time of writing would differ now
    run = run_cli("report", tmp_path / "r.json", tmp_path / "b.xlsx", tmp_path / "b.html")
    assert run.exit_code == 0
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


@pytest.mark.parametrize("command,heading,meta", [
    ("audit", "License audit", "Policy default · profile default · 5 accounts · 11 environments"),
    ("licenses", "Integration app licenses", "Profile default · 15 integration app licenses · 15 reconciliation rows"),
    ("ns-records", "NetSuite integration records", "Profile default · 13 NetSuite records · 8 NetSuite connections"),
])
def test_every_report_says_what_it_is_and_its_links_lead_somewhere(run_cli, tmp_path, command, heading, meta):
    from bs4 import BeautifulSoup
    run_cli(command, "--sample", "--fail-on", "never", "--html", tmp_path / "r.html")
    soup = BeautifulSoup((tmp_path / "r.html").read_text(), "html.parser")
    assert soup.h1.get_text(" ", strip=True) == f"{heading} as of 2026-11-30"
    assert soup.title.get_text() == f"{heading} as of 2026-11-30"
    assert " ".join(soup.find("p", class_="meta").get_text(" ", strip=True).split()).startswith(meta)
    links = [a["href"][1:] for a in soup.find("nav").find_all("a")]
    assert links and all(soup.find(id=target) for target in links), [t for t in links if not soup.find(id=t)]
    if command != "audit":
        assert "endpoints" not in links and "0 accounts" not in soup.get_text()


def test_the_overview_shows_every_metric_in_use_and_labels_at_limit(tmp_path):
    from bs4 import BeautifulSoup
    from conftest import audited

    from auditor.common.paths import sample_dir
    from auditor.report.html import render_html
    from auditor.report.tables import build_report
    soup = BeautifulSoup(render_html(build_report(audited(sample_dir()))), "html.parser")
    chart = soup.find("table", id="chart")
    assert [th.get_text() for th in chart.thead.find_all("th")] == [
        "Account", "Environment", "Plan", "Billable flows", "Endpoints", "Trading partners", "On-premise agents"]
    acme = chart.tbody.find("tr")
    figs = [" ".join(f.get_text(" ", strip=True).split()) for f in acme.find_all("span", class_="fig")]
    assert figs == ["6 / 10", "5 / 5 at limit", "1 / 0 over", "0 / 1"]


def test_the_workbook_totals_only_what_adds_up_and_prints_readably(run_cli, tmp_path):
    import warnings

    import openpyxl
    run_cli("audit", "--sample", "--fail-on", "never", "--xlsx", tmp_path / "r.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    ws = wb["Summary"]
    head = [c.value for c in ws[4]]
    total_row = next(r for r in range(5, ws.max_row + 1) if ws.cell(row=r, column=1).value == "Total (visible rows)")
    totals = dict(zip(head, [c.value for c in ws[total_row]]))
    assert str(totals["endpoints used"]).startswith("=SUBTOTAL(109,")
    # Globex's staging and sandbox draw on one sandbox pool: entitlements do not add up
    assert totals["endpoints entitled"] is None and totals["flows entitled"] is None
    # printed: landscape, from the header row, without the long 'entitled from' texts (the pages
    # across are tested in test_finance_view)
    last_printed = openpyxl.utils.get_column_letter(head.index("muted alarms") + 1)
    assert ws.print_area == f"'Summary'!$A$4:${last_printed}${total_row}"
    def one_page_wide(sheet):  # fit to pages, 1 wide (the default, left out of the file), as many long as need be
        return (sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage
                and sheet.page_setup.fitToWidth in (None, 1) and sheet.page_setup.fitToHeight in (0, "0"))
    about = wb["About"]
    assert one_page_wide(about)
    written = next(r[1] for r in about.iter_rows(values_only=True) if r[0] == "Workbook written by")
    assert written.endswith("from the results of the audit of 2026-11-30")  # no wall-clock time
    # booleans are booleans, counts are counts
    rules = wb["Rules"]
    rhead = [c.value for c in rules[1]]
    assert all(isinstance(r[rhead.index("muted alarms")], int) for r in rules.iter_rows(min_row=2, values_only=True))
    eps = wb["Endpoints"]
    ehead = [c.value for c in eps[1]]
    for row in eps.iter_rows(min_row=2, values_only=True):
        assert row[ehead.index("endpoints")] == (1 if row[ehead.index("row")] != "connection" else None)
        assert isinstance(row[ehead.index("resolved")], bool)


def test_defaults_come_from_the_config_file_then_the_environment_then_the_command_line(run_cli, tmp_path,
                                                                                       monkeypatch):
    config = tmp_path / "auditor.yaml"
    config.write_text(f"defaults:\n  fail_on: never\n  profile: finance\n  policy: community\n"
                      f"history:\n  path: {tmp_path / 'h.sqlite'}\n")
    run = run_cli("--config", config, "audit", "--sample")
    assert run.exit_code == 0 and "policy community · profile finance" in run.stdout  # the file
    monkeypatch.setenv("AUDITOR_FAIL_ON", "high")
    monkeypatch.setenv("AUDITOR_POLICY", "default")
    run = run_cli("--config", config, "audit", "--sample")
    assert run.exit_code == 1 and "policy default · profile finance" in run.stdout  # the environment wins
    assert run_cli("--config", config, "audit", "--sample", "--fail-on", "never").exit_code == 0  # the option wins
    # history.path is the default of --history for every command that has it
    run_cli("--config", config, "audit", "--sample", "--record", "--fail-on", "never")
    assert run_cli("--config", config, "history").stdout.count("Acme Retail") == 2


def test_a_bad_default_in_the_config_file_is_one_line_naming_it(run_cli, tmp_path):
    config = tmp_path / "auditor.yaml"
    config.write_text("defaults:\n  fail_on: sometimes\n")
    run = run_cli("--config", config, "audit", "--sample")
    assert run.exit_code == 2 and run.stderr.startswith(f"Error: {config}: defaults.fail_on: Input should be")
    config.write_text("defaults:\n  colour: blue\n")
    assert "defaults.colour: unknown setting" in run_cli("--config", config, "audit", "--sample").stderr


def test_every_command_shows_examples_and_the_group_shows_completion(run_cli):
    from auditor.cli import cli
    names = [[n] for n in cli.commands if n != "rules"] + [["rules", n] for n in cli.commands["rules"].commands]
    for name in names:
        help_text = run_cli(*name, "--help").stdout
        shown = help_text.split("  Examples:\n", 1)[-1] if "  Examples:\n" in help_text else ""
        assert "auditor " + " ".join(name) in shown or (
            name == ["report"] and "auditor report results.json" in help_text), name
    top = run_cli("--help").stdout
    assert 'eval "$(_AUDITOR_COMPLETE=bash_source auditor)"' in top


def test_tables_wrap_to_the_terminal_and_cut_nothing():
    from auditor.cli.render import text_table
    reason = "integration app flow (connector conn-shopify-app): not counted on the endpoint plan"
    rows = [["Acme Retail", True, 12, reason], ["Globex", False, None, "enabled: counted"]]
    table = text_table(["account", "billable", "flows", "reason"], rows, width=60, numeric={2})
    lines = table.splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert " ".join(" ".join(lines).split()).count("not counted on the endpoint plan") == 1  # wrapped, whole
    assert lines[1].startswith("Acme Retail  yes") and "  12  " in lines[1] and lines[-1].split()[1:4] == ["no", "-", "enabled:"]
    wide = text_table(["reason"], [[reason * 3]])  # not a terminal: one line, in full
    assert wide.splitlines()[1] == reason * 3 and "..." not in wide


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_audit_summary_as_csv_or_json_is_alone_on_standard_output(run_cli, fmt):
    import csv
    import io
    import json
    run = run_cli("audit", "--sample", "--fail-on", "never", "--format", fmt)
    assert run.exit_code == 0 and "Results written to" in run.stderr
    rows = json.loads(run.stdout) if fmt == "json" else list(csv.DictReader(io.StringIO(run.stdout)))
    globex = next(r for r in rows if r["account"] == "Globex Corporation" and r["environment"] == "production")
    wanted = {"billable flows": 4, "flows entitled": 3, "endpoints used": 6, "endpoints entitled": 3, "high": 2}
    key = (lambda k: k.replace(" ", "_")) if fmt == "json" else (lambda k: k)  # JSON keys in snake_case
    assert {k: int(globex[key(k)]) for k in wanted} == wanted
    assert run_cli("audit", "--sample", "-o", "-", "--format", fmt, output=False).exit_code == 2


def test_quiet_says_nothing_and_verbose_says_what_a_long_run_does(run_cli, tmp_path):
    run = run_cli("-q", "audit", "--sample", "--fail-on", "never", "--xlsx", tmp_path / "r.xlsx")
    assert run.exit_code == 0 and run.stdout == "" and run.stderr == "" and (tmp_path / "r.xlsx").exists()
    assert run_cli("-q", "audit", "--sample").stderr.strip() == "6 unmuted alarms at or above high."  # the exit's why
    run = run_cli("-v", "audit", "--sample", "--fail-on", "never", "--xlsx", tmp_path / "r.xlsx")
    steps = [line.split("] ", 1)[1] for line in run.stderr.splitlines()]
    assert steps[0] == "reading 5 accounts" and steps[1] == "read 30 flows and 31 connections; counting"
    assert any(s.startswith("writing the workbook to") for s in steps)
    assert "reading 5 accounts" not in run.stdout  # progress never on standard output
    # not a terminal, not verbose: no progress at all
    assert "reading" not in run_cli("audit", "--sample", "--fail-on", "never").stderr
    assert run_cli("-q", "licenses", "--sample", "--fail-on", "never").stdout == ""


def test_a_partner_scale_summary_shows_the_totals_and_what_is_over_or_at_a_limit(tmp_path, run_cli):
    """Past 20 environments the summary lists only those over or at a limit, then the totals of
    all; --format table still lists every one."""
    root = tmp_path / "accounts"
    for i in range(12):  # legacy accounts: production and sandbox, 24 environments
        write_snapshot(root / f"acct{i:02d}",
                       connections=[{"_id": "c", "type": "http", "http": {"baseURI": f"https://h{i}.example"}}],
                       exports=[{"_id": "e", "_connectionId": "c"}], flows=[flow("f", exports=["e"])],
                       licenses=[{"_id": "l", "type": "endpoint", "numFlows": 10,
                                  "numEndpoints": {0: 1, 1: 0}.get(i, 5)}])  # 00 at its limit, 01 over it
    run = run_cli("audit", root, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    said = run.stdout + run.stderr
    rows = [line.split()[:2] for line in said.splitlines() if line.startswith("acct")]
    assert rows == [["acct00", "production"], ["acct01", "production"]]
    assert ("12 accounts, 24 environments: 12 billable flows, 12 endpoints, 0 trading partners, 0 agents" in said)
    assert "Shown: the 2 environments over or at a limit; the other 22 are within their limits" in said
    full = run_cli("audit", root, "--as-of", "2026-11-30", "--fail-on", "never", "--format", "table")
    assert len([line for line in full.stdout.splitlines() if line.startswith("acct")]) == 24
    assert "environments over or at a limit" not in full.stdout + full.stderr
    # --quiet: no summary at all, short or full; data asked for on standard output still comes
    for fmt in ("summary", "table"):
        quiet = run_cli("-q", "audit", root, "--as-of", "2026-11-30", "--fail-on", "never", "--format", fmt)
        assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    data = run_cli("-q", "audit", root, "--as-of", "2026-11-30", "--fail-on", "never", "--format", "csv")
    assert len(data.stdout.splitlines()) == 1 + 24 and data.stderr == ""
