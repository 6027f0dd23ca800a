"""What it costs (issue 26): the prices file, every metric's 'over by', the overage in money per
environment and currency (never summed across currencies) in the results, the workbook, the HTML
report and the terminal; the history and diff reading results with them."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from pydantic import ValidationError

from auditor.common.errors import AuditorError
from auditor.load.prices import load_prices
from auditor.results import model as m

PRICES = """\
currency: USD
per: month
prices:
  endpoint:
    production: {endpoints: 125, flows: 40, trading_partners: 60}
    sandbox: {endpoints: 60, currency: EUR}
  "*":
    "*": {flows: 10.5}
"""


def _prices(tmp_path: Path, text: str = PRICES, name: str = "prices.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _env(results: dict, account: str, environment: str) -> dict:
    acct = next(a for a in results["accounts"] if a["account"] == account)
    return next(e for e in acct["environments"] if e["environment"] == environment)


# -- the prices file: every wrong value is one line naming the file, the line and the entry, exit 2

BAD = [
    # more decimals than the currency has: the unit price and the cost would be said apart
    ("currency: JPY\nprices:\n  endpoint:\n    production: {endpoints: 0.4}\n", 4,
     "prices.endpoint.production.endpoints: 0.4 has more decimals than JPY has (0); give the price in whole JPY"),
    ("currency: USD\nprices:\n  endpoint:\n    production: {endpoints: 12.505}\n", 4,
     "prices.endpoint.production.endpoints: 12.505 has more decimals than USD has (2)"),
    ("prices:\n  endpoint:\n    production: {endpoints: -5}\ncurrency: USD\n", 3,
     "prices.endpoint.production.endpoints: a price cannot be negative (-5)"),
    ("currency: USD\nprices:\n  endpoint:\n    production: {endpoints: '125'}\n", 4,
     "prices.endpoint.production.endpoints: a price must be a number, not text ('125')"),
    ("currency: USD\nprices:\n  endpoint:\n    production: {endpoints: .nan}\n", 4,
     "prices.endpoint.production.endpoints: a price must be a finite number, not nan"),
    ("currency: USD\nprices:\n  endpoint:\n    production: {endpoints: .inf}\n", 4,
     "prices.endpoint.production.endpoints: a price must be a finite number, not inf"),
    ("currency: USD\nprices:\n  endpoint:\n    production: {endpoints: true}\n", 4,
     "prices.endpoint.production.endpoints: a price must be a number, not true or false"),
    ("currency: USD\nprices:\n  endpoint:\n    production: {endpoints: 10000000000000}\n", 4,
     "prices.endpoint.production.endpoints: a price of 10000000000000 is past any add-on's"),
    ("currency: USDX\nprices:\n  endpoint:\n    production: {endpoints: 5}\n", 1,
     "currency: 'USDX' is not an ISO 4217 currency code"),
    ("currency: XAU\nprices:\n  endpoint:\n    production: {endpoints: 5}\n", 1,
     "currency: 'XAU' is not a currency of money"),
    ("currency: USD\nprices:\n  endpoint:\n    sandbox:\n      endpoints: 5\n      currency: usd\n", 6,
     "prices.endpoint.sandbox.currency: 'usd' is not an ISO 4217 currency code"),
    ("currency: USD\nprices:\n  enterprise:\n    production: {endpoints: 5}\n", 3,
     "prices.enterprise: unknown plan (one of endpoint, integrator, platform, or '*' for any)"),
    ("currency: USD\nprices:\n  endpoint:\n    prod: {endpoints: 5}\n", 4,
     "prices.endpoint.prod: unknown pool (one of production, sandbox, or '*' for any)"),
    ("currency: USD\nprices:\n  endpoint:\n    production:\n      endpoint: 5\n", 5,
     "prices.endpoint.production.endpoint: unknown metric"),
    ("currency: USD\nprices:\n  endpoint:\n    production: {endpoints: 5}\nrate: 3\n", 5,
     "rate: unknown key (a prices file has currency, per and prices)"),
    ("prices:\n  endpoint:\n    production: {endpoints: 5}\n", 3,
     "prices.endpoint.production: no currency: give currency: at the top of the file or in this entry"),
    ("currency: USD\nper: week\nprices:\n  endpoint:\n    production: {endpoints: 5}\n", 2,
     "per: what a price is for: month or year, not 'week'"),
    ("currency: USD\nprices: {}\n", 2, "prices: give prices:"),
    ("currency: USD\nprices:\n  endpoint: 5\n", 3, "prices.endpoint: give the prices of a plan per pool"),
    ("- 1\n- 2\n", 1, "a prices file is a mapping"),
]


@pytest.mark.parametrize("text,line,message", BAD, ids=[b[2].split(":")[0] + str(i) for i, b in enumerate(BAD)])
def test_a_wrong_price_is_one_line_naming_file_line_and_entry(run_cli, tmp_path, text, line, message):
    path = _prices(tmp_path, text)
    r = run_cli("audit", "--sample", "--fail-on", "never", "--prices", path)
    assert r.exit_code == 2
    error = r.stderr.strip()
    assert "\n" not in error and "Traceback" not in error
    assert f"{path}:{line}: " in error and message in error, error
    assert not r.out.exists()  # refused before anything is audited or written


def test_a_bare_star_is_a_yaml_alias_and_refused(run_cli, tmp_path):
    path = _prices(tmp_path, "currency: USD\nprices:\n  *:\n    production: {endpoints: 5}\n")
    r = run_cli("audit", "--sample", "--prices", path)
    assert r.exit_code == 2 and str(path) in r.stderr and "\n" not in r.stderr.strip()


def test_prices_resolve_from_the_most_particular_entry(tmp_path):
    p = load_prices(_prices(tmp_path, """\
currency: USD
prices:
  endpoint:
    production: {endpoints: 125}
    "*": {endpoints: 100, flows: 7}
  "*":
    sandbox: {endpoints: 50, agents: 3, currency: EUR}
    "*": {endpoints: 1, flows: 2, trading_partners: 4}
"""))
    assert p.price("endpoint", "production", "endpoints").amount == 125
    assert p.price("endpoint", "sandbox", "endpoints").amount == 100  # plan and any pool before any plan
    assert p.price("endpoint", "production", "flows").amount == 7
    assert p.price("platform", "sandbox", "endpoints").currency == "EUR"
    assert p.price("platform", "production", "endpoints").amount == 1
    assert p.price("endpoint", "sandbox", "agents").amount == 3
    assert p.price("endpoint", "production", "agents") is None  # nowhere priced for production
    assert p.price("integrator", None, "trading_partners").amount == 4  # no pool: production's


def test_amounts_are_decimal_in_the_currency_minor_unit(tmp_path):
    """Prices are read as written (0.1, not the float nearest it) in their currency's decimals (a
    price with more is refused: see BAD), so a cost is a price times a count, exactly."""
    p = load_prices(_prices(tmp_path, """\
currency: JPY
prices:
  "*":
    production: {endpoints: 1234}
    sandbox: {endpoints: 0.1, currency: USD}
  endpoint:
    production: {endpoints: 0.005, currency: BHD}
"""))
    assert p.cost("platform", "production", "endpoints", 1) == {"currency": "JPY", "amount": 1234.0}
    assert p.cost("platform", "sandbox", "endpoints", 3) == {"currency": "USD", "amount": 0.3}  # not 0.30000000000000004
    assert p.cost("endpoint", "production", "endpoints", 3) == {"currency": "BHD", "amount": 0.015}
    assert p.price("platform", "sandbox", "endpoints").amount == Decimal("0.1")


def test_overage_per_metric_and_currency_never_summed_across(tmp_path):
    p = load_prices(_prices(tmp_path, """\
currency: USD
prices:
  endpoint:
    production: {endpoints: 125, flows: 40, currency: EUR}
    "*": {endpoints: 99}
  "*":
    "*": {trading_partners: 60}
"""))
    cost = p.overage("endpoint", "production", {"flows": 1, "endpoints": 3, "trading_partners": 2, "agents": 1})
    m.EnvironmentCost.model_validate(cost)
    assert [(c["metric"], c["over"], c["cost"]) for c in cost["metrics"]] == [
        ("flows", 1, {"currency": "EUR", "amount": 40.0}), ("endpoints", 3, {"currency": "EUR", "amount": 375.0}),
        ("trading_partners", 2, {"currency": "USD", "amount": 120.0})]
    assert cost["total"] == [{"currency": "EUR", "amount": 415.0}, {"currency": "USD", "amount": 120.0}]
    assert cost["unpriced"] == ["agents"]
    # nothing over, or over unknown: nothing costs
    assert p.overage("endpoint", "sandbox", {"flows": 0, "endpoints": None})["metrics"] == []


def test_the_results_model_refuses_amounts_summed_across_currencies():
    metrics = [{"metric": "flows", "over": 1, "unit_price": {"currency": "EUR", "amount": 40},
                "cost": {"currency": "EUR", "amount": 40}, "priced_by": "p.yaml:4 (endpoint.production)"},
               {"metric": "endpoints", "over": 3, "unit_price": {"currency": "USD", "amount": 125},
                "cost": {"currency": "USD", "amount": 375}, "priced_by": "p.yaml:4 (endpoint.production)"}]
    with pytest.raises(ValidationError, match="never added together"):
        m.EnvironmentCost.model_validate({"per": "month", "metrics": metrics,
                                          "total": [{"currency": "USD", "amount": 415}]})
    with pytest.raises(ValidationError):  # a cost in another currency than its price
        m.MetricCost.model_validate({**metrics[0], "cost": {"currency": "USD", "amount": 40}})
    ok = m.EnvironmentCost.model_validate({"per": "month", "metrics": metrics, "total": [
        {"currency": "EUR", "amount": 40}, {"currency": "USD", "amount": 375}]})
    assert [t.currency for t in ok.total] == ["EUR", "USD"]


def test_load_errors_are_auditor_errors(tmp_path):
    with pytest.raises(AuditorError, match=r"prices\.yaml:4: prices\.endpoint\.production\.flows: a price cannot be"):
        load_prices(_prices(tmp_path, "currency: USD\nprices:\n  endpoint:\n    production: {flows: -1}\n"))


# -- the audit: over by always, money with prices

def test_over_by_is_written_for_every_metric_without_prices(run_cli):
    r = run_cli("audit", "--sample", "--fail-on", "never")
    assert r.exit_code == 0
    globex = _env(r.results, "Globex Corporation", "production")
    assert (globex["flows"]["over"], globex["endpoints"]["over"]) == (1, 3)  # 4 / 3 and 6 / 3
    assert globex["trading_partners"]["over"] is None  # the license gives none: unknown, not 0
    acme = _env(r.results, "Acme Retail", "production")
    assert (acme["endpoints"]["over"], acme["trading_partners"]["over"], acme["flows"]["over"]) == (0, 1, 0)
    assert _env(r.results, "Initech", "production")["endpoints"]["over"] is None
    assert "prices" not in r.results and all("cost" not in e for a in r.results["accounts"] for e in a["environments"])


def test_money_per_environment_and_currency_in_the_results(run_cli, tmp_path):
    r = run_cli("audit", "--sample", "--fail-on", "never", "--prices", _prices(tmp_path))
    assert r.exit_code == 0, r.stderr
    m.Results.model_validate(r.results)
    cost = _env(r.results, "Globex Corporation", "production")["cost"]
    assert cost["per"] == "month"
    assert [(c["metric"], c["over"], c["unit_price"]["amount"], c["cost"]["amount"]) for c in cost["metrics"]] == [
        ("flows", 1, 40.0, 40.0), ("endpoints", 3, 125.0, 375.0)]
    assert cost["total"] == [{"currency": "USD", "amount": 415.0}]
    assert cost["metrics"][1]["priced_by"] == "prices.yaml:5 (endpoint.production)"
    # the integrator plan's sandbox is priced by the '*' entry
    assert _env(r.results, "Initech", "sandbox")["cost"]["total"] == [{"currency": "USD", "amount": 10.5}]
    assert _env(r.results, "Initech", "production")["cost"]["unpriced"] == ["agents"]
    assert _env(r.results, "Hooli", "production")["cost"] == {"per": "month", "metrics": [], "total": [],
                                                               "unpriced": []}
    used = r.results["prices"]
    assert used["file"] == "prices.yaml" and used["currency"] == "USD" and len(used["sha256"]) == 64
    assert {"plan": "endpoint", "pool": "sandbox", "metric": "endpoints",
            "price": {"currency": "EUR", "amount": 60.0}} in used["prices"]
    # the terminal says it per environment and currency
    assert "Globex Corporation production: 415.00 USD a month (billable flows 1 over x 40.00 USD; " \
           "endpoints 3 over x 125.00 USD)" in r.stdout
    assert "Initech production: on-premise agents 1 over, not priced" in r.stdout


def test_two_currencies_in_one_environment_stay_apart(run_cli, tmp_path):
    prices = _prices(tmp_path, "currency: USD\nprices:\n  endpoint:\n    production: {endpoints: 125}\n"
                               "  '*':\n    production: {flows: 30, currency: GBP}\n")
    xlsx, html = tmp_path / "r.xlsx", tmp_path / "r.html"
    r = run_cli("audit", "--sample", "--fail-on", "never", "--prices", prices, "--xlsx", xlsx, "--html", html)
    assert r.exit_code == 0, r.stderr
    assert _env(r.results, "Globex Corporation", "production")["cost"]["total"] == [
        {"currency": "GBP", "amount": 30.0}, {"currency": "USD", "amount": 375.0}]
    assert "Globex Corporation production: 30.00 GBP + 375.00 USD a month" in r.stdout
    sheet = openpyxl.load_workbook(xlsx)["Summary"]
    header = [c.value for c in sheet[4]]
    assert "overage GBP" in header and "overage USD" in header
    assert not any(h and "overage" in h and not h.endswith((" GBP", " USD")) for h in header)  # no mixed total
    rows = {(row[0].value, row[1].value): row for row in sheet.iter_rows(min_row=5) if row[1].value}
    globex = rows[("Globex Corporation", "production")]
    gbp, usd = globex[header.index("overage GBP")], globex[header.index("overage USD")]
    assert (gbp.value, usd.value) == (30, 375)
    assert "GBP" in gbp.number_format and "USD" in usd.number_format
    page = html.read_text()
    assert "30.00 GBP + 375.00 USD" in page and "one amount per currency" in page


def test_the_summary_sheet_has_over_by_columns_without_prices(run_cli, tmp_path):
    xlsx = tmp_path / "r.xlsx"
    r = run_cli("audit", "--sample", "--fail-on", "never", "--xlsx", xlsx)
    assert r.exit_code == 0
    sheet = openpyxl.load_workbook(xlsx)["Summary"]
    header = [c.value for c in sheet[4]]
    for col in ("flows over by", "endpoints over by", "trading partners over by", "agents over by"):
        assert col in header
    assert not any(h and "overage" in h for h in header)  # money only with prices
    rows = {(row[0].value, row[1].value): row for row in sheet.iter_rows(min_row=5) if row[1].value}
    globex = rows[("Globex Corporation", "production")]
    assert globex[header.index("endpoints over by")].value == 3
    assert globex[header.index("flows over by")].value == 1
    assert globex[header.index("trading partners over by")].value is None  # unknown: blank, not 0
    assert rows[("Acme Retail", "production")][header.index("trading partners over by")].value == 1
    total = next(row for row in sheet.iter_rows(min_row=5) if row[0].value == "Total (visible rows)")
    assert total[header.index("endpoints over by")].value.startswith("=SUBTOTAL(109,")


def test_the_workbook_and_html_with_prices(run_cli, tmp_path):
    xlsx, html = tmp_path / "r.xlsx", tmp_path / "r.html"
    r = run_cli("audit", "--sample", "--fail-on", "never", "--prices", _prices(tmp_path), "--xlsx", xlsx,
                "--html", html)
    assert r.exit_code == 0
    sheet = openpyxl.load_workbook(xlsx)["Summary"]
    header = [c.value for c in sheet[4]]
    assert {"overage USD", "endpoints overage USD", "flows overage USD", "overage EUR",
            "endpoints overage EUR"} <= set(header)
    rows = {(row[0].value, row[1].value): row for row in sheet.iter_rows(min_row=5) if row[1].value}
    cell = rows[("Globex Corporation", "production")][header.index("overage USD")]
    assert cell.value == 415 and cell.data_type == "n" and cell.number_format == "[$USD] #,##0.00"
    assert rows[("Hooli", "production")][header.index("overage USD")].value == 0
    page = html.read_text()
    assert "What the overage costs" in page and "At the prices of prices.yaml (a month" in page
    assert "415.00 USD" in page and "125.00 USD" in page and "prices.yaml:5 (endpoint.production)" in page
    assert "on-premise agents (1 over): not priced" in page
    assert "billable flows 1, endpoints 3" in page  # the environments table's 'over by'


def test_a_prices_file_name_is_escaped_in_the_html(run_cli, tmp_path):
    html = tmp_path / "r.html"
    r = run_cli("audit", "--sample", "--fail-on", "never", "--html", html,
                "--prices", _prices(tmp_path, name="<img src=x onerror=alert(1)>.yaml"))
    assert r.exit_code == 0
    page = html.read_text()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.yaml" in page


def test_prices_from_the_configuration_and_the_environment(run_cli, tmp_path, monkeypatch):
    prices = _prices(tmp_path)
    config = tmp_path / "auditor.yaml"
    config.write_text(f"defaults:\n  prices: {prices}\n")
    r = run_cli("--config", config, "audit", "--sample", "--fail-on", "never")
    assert r.exit_code == 0, r.stderr
    assert r.results["prices"]["file"] == "prices.yaml"
    assert _env(r.results, "Globex Corporation", "production")["cost"]["total"][0]["amount"] == 415.0
    bad = _prices(tmp_path, "currency: USD\nprices:\n  endpoint:\n    production: {endpoints: -1}\n", "bad.yaml")
    config.write_text(f"defaults:\n  prices: {bad}\n")
    r = run_cli("--config", config, "audit", "--sample")
    assert r.exit_code == 2 and f"{bad}:4: prices.endpoint.production.endpoints" in r.stderr
    monkeypatch.setenv("AUDITOR_PRICES", str(prices))  # the variable wins over the file
    r = run_cli("--config", config, "audit", "--sample", "--fail-on", "never")
    assert r.exit_code == 0 and r.results["prices"]["file"] == "prices.yaml"


def test_no_output_may_overwrite_the_prices_file(run_cli, tmp_path):
    prices = _prices(tmp_path)
    r = run_cli("audit", "--sample", "--prices", prices, "--html", prices)
    assert r.exit_code == 2 and "--prices" in r.stderr
    assert prices.read_text() == PRICES


def test_history_report_and_diff_read_results_with_prices(run_cli, tmp_path):
    history = tmp_path / "h.sqlite"
    r = run_cli("audit", "--sample", "--fail-on", "never", "--prices", _prices(tmp_path), "--record",
                "--history", history)
    assert r.exit_code == 0, r.stderr
    html = tmp_path / "again.html"
    again = run_cli("report", "2026-11-30", "--history", history, html)
    assert again.exit_code == 0, again.stderr
    assert "415.00 USD" in html.read_text()
    plain = run_cli("audit", "--sample", "--fail-on", "never")
    diff = run_cli("diff", plain.out, r.out)
    assert diff.exit_code in (0, 1) and "internal error" not in diff.stderr, diff.stderr


def test_a_results_file_of_an_earlier_version_without_over_still_renders(run_cli, tmp_path):
    r = run_cli("audit", "--sample", "--fail-on", "never")
    data = r.results
    for acct in data["accounts"]:
        for env in acct["environments"]:
            for metric in ("flows", "endpoints", "trading_partners", "agents"):
                env[metric].pop("over", None)
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    xlsx = tmp_path / "old.xlsx"
    assert run_cli("report", old, xlsx).exit_code == 0
    sheet = openpyxl.load_workbook(xlsx)["Summary"]
    header = [c.value for c in sheet[4]]
    # not worked out again from used and entitled: what the file does not say is blank
    assert all(row[header.index("endpoints over by")].value is None for row in sheet.iter_rows(min_row=5, max_row=6))


def test_whatif_prices_the_overage_as_if_edited(run_cli, tmp_path):
    out = tmp_path / "w.json"
    r = run_cli("whatif", "--sample", "--env", "production", "--disable-flow", "gf-charges", "--fail-on", "never",
                "--prices", _prices(tmp_path), "-o", out)
    assert r.exit_code == 0, r.stderr
    results = json.loads(out.read_text())
    cost = _env(results, "Globex Corporation", "production")["cost"]
    assert cost["total"] == [{"currency": "USD", "amount": 125.0 * cost["metrics"][-1]["over"]
                              + sum(c["cost"]["amount"] for c in cost["metrics"][:-1])}]
    assert results["prices"]["file"] == "prices.yaml" and "Globex Corporation production: " in r.stdout
