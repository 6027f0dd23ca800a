"""How the reports scale: a results file of many accounts and findings, rendered to HTML, Excel
and CSV, each in a fresh process (time and peak memory), interleaved and repeated; then the HTML
page opened in headless Chromium (time to first screen, time to filter).

    python benchmarks/bench_report.py --accounts 5000 --findings 100000 --repeat 3

Prints medians. The results file is generated (valid against auditor.results.Results), since
reports are rendered from it alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEVERITIES = ["critical", "high", "medium", "low", "info"]
RULES = [("endpoints-over-entitlement", "high"), ("flows-near-entitlement", "medium"),
         ("endpoint-identity-unresolved", "low"), ("missing-reference", "medium"), ("license-expiring", "medium")]


def results(accounts: int, findings: int, flows: int, seed: int = 7) -> dict:
    rnd = random.Random(seed)
    accts, found = [], []
    per_account = max(1, findings // accounts)
    for a in range(accounts):
        name = f"Account {a:05d}"
        envs, endpoints, conns, flow_rows = [], [], [], []
        for env in ("production", "sandbox"):
            used = rnd.randint(1, 12)
            envs.append({"environment": env, "pool": env,
                         "flows": {"total": flows, "enabled": flows // 2, "billable": flows // 2, "entitled": 10,
                                   "entitled_from": "endpoint license"},
                         "endpoints": {"used": used, "entitled": 8, "entitled_from": "endpoint license"},
                         "trading_partners": {"used": 0, "entitled": None, "entitled_from": "none"}})
            for e in range(used):
                cids = [f"c-{env}-{e}-{k}" for k in range(2)]
                fids = [f"f-{env}-{e}-{k}" for k in range(3)]
                endpoints.append({"environment": env, "key": f"uri:https://api{e}.example.com/{env}",
                                  "application": "rest", "category": "universal", "resolved": True,
                                  "explain": "each distinct base URI is one endpoint", "connections": cids, "flows": fids})
                conns += [{"environment": env, "id": c, "name": f"Connection {c}", "type": "rest", "application": "rest",
                           "role": "endpoint", "key": endpoints[-1]["key"], "explain": "uri", "enabled_flows": 3}
                          for c in cids]
        for f in range(flows):
            env = "production" if f % 2 else "sandbox"
            flow_rows.append({"environment": env, "id": f"f-{env}-{f}", "name": f"Flow {f} of {name}",
                              "enabled": True, "billable": f % 3 != 0, "reason_code": "billable",
                              "reason": "enabled: counted"})
        accts.append({"account": name, "license_model": "legacy", "plan": "endpoint", "plan_from": "license",
                      "environments": envs, "endpoints": endpoints, "trading_partners": [], "flows": flow_rows,
                      "connections": conns,
                      "licenses": [{"id": f"lic-{a}", "type": "endpoint", "tier": None, "connector_id": None,
                                    "edition": None, "expires": "2027-01-31", "trial_end": None, "plan": True}]})
        for i in range(per_account):
            rule, sev = RULES[i % len(RULES)]
            found.append({"id": f"{a:06d}{i:04d}", "rule": rule, "title": rule.replace("-", " "), "severity": sev,
                          "status": "alarm" if i % 7 else "skip", "account": name,
                          "environment": "production" if i % 2 else "sandbox",
                          "resource": {"type": "connection", "id": f"c-{i}", "name": f"Connection {i}"},
                          "reason": f"connection Connection {i} of {name} alarms under {rule} ({i})",
                          "muted": i % 11 == 0, "mute_reason": "accepted until renewal" if i % 11 == 0 else None})
    return {"schema_version": 1, "tool_version": "bench", "as_of": "2026-11-30", "policy": "default",
            "profile": "default", "accounts": accts, "findings": found,
            "rule_counts": [{"rule": r, "account": "Account 00000", "environment": None, "ok": 1, "alarm": 1, "skip": 0}
                            for r, _ in RULES],
            "mutes": [], "load_issues": [],
            "rules": [{"id": r, "title": r, "severity": s, "frame": "environments", "description": "d",
                       "remediation": "r", "references": [], "tags": [], "parameters": {}} for r, s in RULES],
            "inputs": []}


WAYS = {
    "html": "from auditor.report.html import write_html; write_html(report, out / 'r.html')",
    "xlsx": "from auditor.report.xlsx import write_xlsx; write_xlsx(report, out / 'r.xlsx')",
    "csv": "from auditor.report import write_csv; write_csv(report, out / 'csv')",
}

CHILD = """
import resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from auditor.results.io import load_json
from auditor.report.tables import build_report
out = Path(sys.argv[1])
report = build_report(load_json(out / 'results.json'))
t1 = time.perf_counter()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
{way}
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def run_way(way: str, folder: Path) -> tuple[float, ...]:
    """(seconds to read and build the tables, seconds to write, peak MB before writing, peak MB)."""
    done = subprocess.run([sys.executable, "-c", CHILD.format(way=WAYS[way]), str(folder)], check=True,
                          capture_output=True, text=True)
    return tuple(float(x) for x in done.stdout.split())


def browser(html: Path, repeat: int, chromium: str) -> dict[str, list[float]]:
    from playwright.sync_api import expect, sync_playwright

    times: dict[str, list[float]] = {"open": [], "filter severity": [], "search": []}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        for _ in range(repeat):
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(html.as_uri())
            page.wait_for_selector("html[data-ready=true]", timeout=120_000)
            times["open"].append(time.perf_counter() - t0)
            grid = page.locator('.grid[data-dataset="findings"]')
            before = grid.get_attribute("data-visible")
            t0 = time.perf_counter()
            grid.locator('select[data-filter="severity"]').select_option("medium")
            expect(grid).not_to_have_attribute("data-visible", before)
            times["filter severity"].append(time.perf_counter() - t0)
            before = grid.get_attribute("data-visible")
            t0 = time.perf_counter()
            grid.locator('input[type="search"]').fill("account 04321")
            expect(grid).not_to_have_attribute("data-visible", before, timeout=30_000)
            times["search"].append(time.perf_counter() - t0)  # includes the 120 ms typing pause
            page.close()
        b.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--findings", type=int, default=100_000)
    ap.add_argument("--flows", type=int, default=20, help="flows per account")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-report-"))
    data = results(args.accounts, args.findings, args.flows)
    from auditor.results.io import write
    from auditor.results.model import Results

    Results.model_validate(data)
    write(data, folder / "results.json")
    size = (folder / "results.json").stat().st_size
    print(f"{args.accounts:,} accounts, {len(data['findings']):,} findings, {args.accounts * args.flows:,} flows, "
          f"{sum(len(a['endpoints']) for a in data['accounts']):,} endpoints; results file {size / 1e6:.0f} MB")
    samples: dict[str, list[tuple[float, ...]]] = {w: [] for w in WAYS}
    for _ in range(args.repeat):
        for way in WAYS:  # interleaved, so that the machine's noise falls on every way alike
            samples[way].append(run_way(way, folder))
    print(f"{'way':<6} {'read+tables':>12} {'write':>8} {'peak before':>12} {'peak':>9}   "
          f"(medians of {args.repeat}, fresh process each; the write adds peak - peak before)")
    for way, runs in samples.items():
        read, write_s, before, peak = (statistics.median(x) for x in zip(*runs))
        print(f"{way:<6} {read:>11.2f}s {write_s:>7.2f}s {before:>9.0f} MB {peak:>6.0f} MB")
    html = folder / "r.html"
    print(f"HTML {html.stat().st_size / 1e6:.1f} MB, workbook {(folder / 'r.xlsx').stat().st_size / 1e6:.1f} MB")
    if not args.no_browser:
        times = browser(html, args.repeat, args.chromium)
        for what, values in times.items():
            print(f"browser {what:<16} {statistics.median(values):6.2f} s  (runs: {', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
