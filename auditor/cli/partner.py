"""Commands for an integration app partner: licenses (and billing), ns-records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from auditor import __version__
from auditor.cli.app import cli
from auditor.cli.options import (
    SAMPLE_AS_OF,
    claim_stdout,
    examples,
    parse_day,
    report_outputs,
    run_options,
    say,
)
from auditor.cli.render import finish_run, license_table, ns_records_table, reconciliation_table
from auditor.common.paths import netsuite_sample_dir, partner_sample_dir, sample_dir
from auditor.common.vocabulary import DEFAULT_APPLICATION, plural


@examples('auditor licenses --sample --fail-on never --xlsx partner.xlsx', 'auditor licenses partner-snapshot/ --billing billing.csv --billing-map map.yaml')
@cli.command()
@click.argument("partner_snapshot", required=False, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--sample", is_flag=True, help="The bundled sample partner, with its billing export, map and license list.")
@click.option("--billing", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="Billing export (CSV or XLSX) to reconcile the licenses against.")
@click.option("--billing-map", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="YAML mapping of the billing file's headers (default: the field names themselves).")
@click.option("--license-list", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="Licenses kept by hand (CSV or XLSX), added to those of the snapshot.")
@click.option("--license-map", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="YAML mapping of the license list's headers.")
@run_options
@click.pass_context
def licenses(ctx, partner_snapshot, sample, billing, billing_map, license_list, license_map, as_of, output, fail_on,
             mutes, rules, html, xlsx, csv_dir, templates):
    """Audit a partner's integration app licenses (a snapshot from 'auditor pull --partner':
    connectors.json and connectors/<id>/licenses.json, installBase.json), and with --billing
    reconcile them against a billing export: one row per customer and connector.

    Writes the results file (sections connector_licenses and reconciliation, findings as usual)
    and, with --html / --xlsx / --csv, the reports. Exit codes as for 'auditor audit'.
    """
    import pandas as pd

    from auditor.runs.partner import audit_partner
    claim_stdout(output)
    if sample:
        root = partner_sample_dir()
        partner_snapshot = root
        billing, billing_map = billing or root / "billing.csv", billing_map or root / "billing-map.yaml"
        license_list = license_list or root / "license-list.csv"
    if partner_snapshot is None:
        raise click.UsageError("name a partner snapshot folder, or use --sample")
    day = parse_day(as_of) or (SAMPLE_AS_OF if sample else datetime.now(UTC).date())
    results = audit_partner(partner_snapshot, day, rules, billing=billing, billing_map=billing_map,
                            license_list=license_list, license_map=license_map, mutes_file=mutes)
    results["profile"] = ctx.params["profile"]
    lic = pd.DataFrame(results["connector_licenses"])
    say(f"auditor {__version__} · partner {partner_snapshot.resolve().name} · {plural(len(rules), 'rule')} · "
        f"as of {day}")
    if not lic.empty:
        say(license_table(lic), block=True)
    if results["reconciliation"] is not None:
        say(reconciliation_table(results), block=True)
    finish_run(results, output, fail_on, report_outputs(html, xlsx, csv_dir, templates))


@examples('auditor ns-records --sample --fail-on never --html ns.html', 'auditor ns-records sandbox.csv production.csv --snapshot acme/ --map map.yaml')
@cli.command("ns-records")
@click.argument("sandbox_list", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.argument("production_list", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--sample", is_flag=True, help="The bundled sample lists, checked against the sample accounts.")
@click.option("--map", "mapping", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="YAML mapping of the lists' headers (default: the field names themselves).")
@click.option("--snapshot", type=click.Path(path_type=Path, exists=True), metavar="DIR",
              help="A snapshot (or folder of them) whose NetSuite connections to check against the records.")
@click.option("--refreshed-on", metavar="YYYY-MM-DD",
              help="When the sandboxes were last refreshed (default: the production list's export date "
                   "when the sandbox list was exported later).")
@click.option("--application", default=DEFAULT_APPLICATION, show_default=True, metavar="REGEX",
              help="What names an integrator.io record (matched against name and application id).")
@run_options
@click.pass_context
def ns_records(ctx, sandbox_list, production_list, sample, mapping, snapshot, refreshed_on, application, as_of,
               output, fail_on, mutes, rules, html, xlsx, csv_dir, templates):
    """Compare the NetSuite integration records of sandbox and production accounts
    (SANDBOX_LIST and PRODUCTION_LIST: CSV, XLSX or JSON exports of Manage Integrations; a JSON
    list may be {"exported": DATE, "records": [...]}), and with --snapshot check the NetSuite
    connections of integrator.io against them.

    Writes the results file (sections ns_records and ns_links, findings as usual) and, with
    --html / --xlsx / --csv, the reports. Exit codes as for 'auditor audit'.
    """
    import pandas as pd

    from auditor.runs.netsuite import audit_netsuite
    claim_stdout(output)
    if sample:
        root = netsuite_sample_dir()
        sandbox_list, production_list = root / "sandbox.json", root / "production.json"
        mapping, snapshot = mapping or root / "map.yaml", snapshot or sample_dir()
    if sandbox_list is None or production_list is None:
        raise click.UsageError("name the sandbox list and the production list, or use --sample")
    day = parse_day(as_of) or (SAMPLE_AS_OF if sample else datetime.now(UTC).date())
    results = audit_netsuite(sandbox_list, production_list, day, rules, mapping=mapping, snapshot=snapshot,
                             refreshed_on=parse_day(refreshed_on), application=application, mutes_file=mutes)
    results["profile"] = ctx.params["profile"]
    recs = pd.DataFrame(results["ns_records"])
    say(f"auditor {__version__} · NetSuite integration records · {plural(len(rules), 'rule')} · as of {day}"
        + (f" · sandboxes refreshed on {results['ns_refreshed_on']}" if results["ns_refreshed_on"] else ""))
    if not recs.empty:
        say(ns_records_table(recs), block=True)
    finish_run(results, output, fail_on, report_outputs(html, xlsx, csv_dir, templates))

