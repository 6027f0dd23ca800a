"""Benchmark: the audit end to end against the plain way, side by side, on synthetic accounts.

    python benchmarks/bench_audit.py --accounts 5000 --flows 200 --connections 40 --repeat 3

Generates the accounts once (into --data, kept for later runs), then runs each way in a fresh
process, interleaved, `--repeat` times, and prints median wall time and peak memory (max RSS)
per way and their ratios. Ways:

  auditor   the audit (load, count, rules) and the results file written, as `auditor audit` does
  count     the audit without writing the results file
  plain     json.load + pandas.json_normalize + merges, counting billable flows and endpoints

Each way checks its counts against the generator's expected.json, so a fast wrong answer fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WAYS = ("auditor", "count", "plain")


def run_auditor(root: Path, write: bool) -> dict:
    from datetime import date

    from auditor.count.policy import load_policy
    from auditor.results.build import build
    from auditor.results.io import write
    from auditor.rules.model import load_rules
    from auditor.runs.account import run

    audit = run([root], load_policy("default"), load_rules(), date(2026, 11, 30))
    if write:
        with tempfile.TemporaryDirectory() as tmp:
            write(build(audit), Path(tmp) / "results.json")
    env = audit.environments
    return {(a, e): (int(f), int(p)) for a, e, f, p in
            zip(env["account"], env["environment"], env["flows_billable"], env["endpoints_used"])}


def run_plain(root: Path) -> dict:
    import pandas as pd

    records: dict[str, list] = {r: [] for r in ("connections", "exports", "imports", "flows")}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for resource, rows in records.items():
            with open(folder / f"{resource}.json") as fh:
                for rec in json.load(fh):
                    rec["account"] = folder.name
                    rows.append(rec)
    conns = pd.json_normalize(records.pop("connections"))
    exports = pd.json_normalize(records.pop("exports"))
    imports = pd.json_normalize(records.pop("imports"))
    flows = pd.json_normalize(records.pop("flows"))
    flows["env"] = flows["sandbox"].fillna(False).map({True: "sandbox", False: "production"})
    flows["enabled"] = ~flows.get("disabled", pd.Series(False, index=flows.index)).fillna(False).astype(bool)
    pg = flows[["account", "_id", "pageGenerators"]].explode("pageGenerators").dropna()
    pg["ref"] = pg["pageGenerators"].map(lambda s: s.get("_exportId"))
    first = pg.groupby(["account", "_id"]).first().reset_index()
    first = first.merge(exports[["account", "_id", "adaptorType"]].rename(columns={"_id": "ref"}), on=["account", "ref"], how="left")
    loader = first[first["adaptorType"] == "SimpleExport"][["account", "_id"]].assign(loader=True)
    flows = flows.merge(loader, on=["account", "_id"], how="left")
    free = flows["free"].fillna(False).astype(bool) if "free" in flows else False
    flows["billable"] = flows["enabled"] & ~flows["loader"].fillna(False).astype(bool) & ~free
    pp = flows[["account", "_id", "pageProcessors"]].explode("pageProcessors").dropna()
    pp["ref"] = pp["pageProcessors"].map(lambda s: s.get("_importId"))
    rt = flows[["account", "_id", "routers"]].explode("routers").dropna()
    rt = rt.assign(b=rt["routers"].map(lambda r: r.get("branches", []))).explode("b").dropna()
    rt = rt.assign(p=rt["b"].map(lambda b: b.get("pageProcessors", []))).explode("p").dropna()
    rt["ref"] = rt["p"].map(lambda s: s.get("_importId"))
    steps = pd.concat([
        pg[["account", "_id", "ref"]].merge(exports[["account", "_id", "_connectionId"]].rename(columns={"_id": "ref"}), on=["account", "ref"]),
        pp[["account", "_id", "ref"]].merge(imports[["account", "_id", "_connectionId"]].rename(columns={"_id": "ref"}), on=["account", "ref"]),
        rt[["account", "_id", "ref"]].merge(imports[["account", "_id", "_connectionId"]].rename(columns={"_id": "ref"}), on=["account", "ref"]),
    ])
    used = steps.merge(flows[flows["enabled"]][["account", "_id", "env"]], on=["account", "_id"])
    c = conns.rename(columns={"_id": "_connectionId"})
    acct = c["netsuite.account"].fillna("").str.upper()
    uri = c.get("http.baseURI", pd.Series(index=c.index)).fillna(c.get("rest.baseURI", pd.Series(index=c.index)))
    c["key"] = ("netsuite:" + acct).where(c["type"] == "netsuite")
    c.loc[acct.str.contains(r"_SB\d+$", regex=True), "key"] = "netsuite:sandboxes"
    c["key"] = c["key"].fillna("uri:" + uri.str.rstrip("/").str.lower())
    c["key"] = c["key"].fillna("salesforce:" + c["salesforce.info.organization_id"])
    c["key"] = c["key"].fillna("ftp:" + c["ftp.hostURI"] + ":22")
    c["key"] = c["key"].fillna("db:" + c["rdbms.host"] + "/" + c["rdbms.database"])
    c = c[c["assistant"] != "integratorio"]
    used = used.merge(c[["account", "_connectionId", "key"]], on=["account", "_connectionId"])
    endpoints = used.groupby(["account", "env"])["key"].nunique()
    billable = flows[flows["billable"]].groupby(["account", "env"]).size()
    out = {}
    for (a, e) in set(endpoints.index) | set(billable.index):
        out[(a, e)] = (int(billable.get((a, e), 0)), int(endpoints.get((a, e), 0)))
    return out


def check(counts: dict, expected: dict) -> None:
    bad = 0
    for account, envs in expected.items():
        for env, want in envs.items():
            got = counts.get((account, env), (0, 0))
            if got != (want["billable"], want["endpoints"]):
                bad += 1
    if bad:
        raise SystemExit(f"{bad} account-environments counted differently from expected.json")


def child(way: str, root: Path) -> None:
    expected = json.loads((root / "expected.json").read_text())
    start = time.perf_counter()
    counts = run_plain(root) if way == "plain" else run_auditor(root, write=way == "auditor")
    seconds = time.perf_counter() - start
    check(counts, expected)
    print(json.dumps({"seconds": seconds}))


def measure(way: str, root: Path) -> tuple[float, float]:
    proc = subprocess.Popen([sys.executable, __file__, "--child", way, "--data", str(root)],
                            stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{way} failed (exit {proc.returncode})")
    return json.loads(out.strip().splitlines()[-1])["seconds"], usage.ru_maxrss / 1024 / 1024  # GiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--flows", type=int, default=200, help="flows per account")
    ap.add_argument("--connections", type=int, default=40, help="connections per account")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ways", default=",".join(WAYS))
    ap.add_argument("--data", type=Path, default=Path("bench-data"))
    ap.add_argument("--child", choices=WAYS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.data)

    root = args.data / f"a{args.accounts}-f{args.flows}-c{args.connections}"
    if not (root / "expected.json").exists():
        from auditor.synth import generate

        t = time.perf_counter()
        generate(root, args.accounts, args.flows, args.connections, late_key_at=args.accounts * args.flows // 2)
        print(f"generated {root} in {time.perf_counter() - t:.0f} s")
    size = sum(p.stat().st_size for p in root.rglob("*.json")) / 1e6
    flows = args.accounts * args.flows
    print(f"{args.accounts} accounts, {flows:,} flows, {args.accounts * args.connections:,} connections, "
          f"{2 * args.accounts * args.connections:,} exports, {3 * args.accounts * args.connections:,} imports: "
          f"{size:,.0f} MB of JSON")
    ways = args.ways.split(",")
    samples: dict[str, list[tuple[float, float]]] = {w: [] for w in ways}
    for i in range(args.repeat):
        for way in ways:
            samples[way].append(measure(way, root))
            s, m = samples[way][-1]
            print(f"  run {i + 1} {way:8s} {s:7.2f} s {m:6.2f} GiB", flush=True)
    print(f"\nmedians of {args.repeat} runs, interleaved:")
    med = {w: (statistics.median(s for s, _ in v), statistics.median(m for _, m in v)) for w, v in samples.items()}
    for way, (s, m) in med.items():
        print(f"  {way:8s} {s:7.2f} s  peak {m:5.2f} GiB")
    if "plain" in med:
        for way in ways:
            if way != "plain":
                print(f"  plain / {way}: {med['plain'][0] / med[way][0]:.1f}x time, "
                      f"{med['plain'][1] / med[way][1]:.1f}x memory")


if __name__ == "__main__":
    main()
