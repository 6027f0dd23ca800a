"""How the partner license audit scales: N licenses in a partner snapshot reconciled against N
billing rows, each run in a fresh process, repeated; prints medians and the split by step.

    python benchmarks/bench_partner.py --licenses 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import resource, sys, time
from datetime import date
from pathlib import Path
root = Path(sys.argv[1])
t0 = time.perf_counter()
from auditor.partner.licenses import load_partner, license_frame
from auditor.runs.partner import audit_partner
from auditor.partner.reconcile import read_billing, reconcile
from auditor.rules.model import load_rules
from auditor.results.io import write
rules = load_rules()
t1 = time.perf_counter()
issues = []
connectors, licenses, installs = load_partner(root, issues)
frame = license_frame(connectors, licenses, installs, date(2026, 11, 30))
t2 = time.perf_counter()
billing, mapping = read_billing(root / "billing.csv", None, connectors, issues)
t3 = time.perf_counter()
recon = reconcile(frame, billing, connectors, date(2026, 11, 30))
t4 = time.perf_counter()
results = audit_partner(root, date(2026, 11, 30), rules, billing=root / "billing.csv")
write(results, root / "results.json")
t5 = time.perf_counter()
print(t2 - t1, t3 - t2, t4 - t3, t5 - t4, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(recon))
"""


def generate(root: Path, n: int, seed: int = 3) -> None:
    rnd = random.Random(seed)
    editions = ["starter", "standard", "premium"]
    connectors = [{"_id": f"conn-{k}", "name": f"App {k}", "editions": editions} for k in range(2)]
    (root / "connectors.json").write_text(json.dumps(connectors))
    lic = {c["_id"]: [] for c in connectors}
    base = {c["_id"]: [] for c in connectors}
    billing = []
    for i in range(n):
        cid = connectors[i % 2]["_id"]
        email = f"user{i:06d}@customer{i % 997}.example"
        expires = f"2027-{rnd.randint(1, 12):02d}-15" if rnd.random() > 0.1 else "2026-10-15"
        rec = {"_id": f"L{i:06d}", "created": "2026-01-01T00:00:00.000Z", "expires": expires + "T00:00:00.000Z",
               "opts": {"connectorEdition": rnd.choice(editions)}, "user": {"email": email, "_id": f"u{i}"}}
        if rnd.random() > 0.2:
            rec["_integrationId"] = f"int-{i}"
            base[cid].append({"_integrationId": f"int-{i}", "email": email})
        lic[cid].append(rec)
        if rnd.random() > 0.05:  # most are billed, some at another edition or quantity
            billing.append([email, cid, rnd.choice(editions), rnd.choice([1, 1, 1, 2]), "2026-11-01", "2026-11-30",
                            f"{rnd.randint(50, 500)}.00", "USD"])
    for extra in range(n - len(billing)):  # billed customers with no license
        billing.append([f"stranger{extra}@nowhere.example", "conn-0", "standard", 1, "2026-11-01", "2026-11-30",
                        "99.00", "EUR"])
    for c in connectors:
        folder = root / "connectors" / c["_id"]
        folder.mkdir(parents=True)
        (folder / "licenses.json").write_text(json.dumps(lic[c["_id"]]))
        (folder / "installBase.json").write_text(json.dumps(base[c["_id"]]))
    with (root / "billing.csv").open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["email", "connector", "edition", "quantity", "period_start", "period_end", "amount", "currency"])
        w.writerows(billing)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--licenses", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-partner-"))
    generate(root, args.licenses)
    runs = []
    for _ in range(args.repeat):
        done = subprocess.run([sys.executable, "-c", CHILD, str(root)], check=True, capture_output=True, text=True)
        runs.append([float(x) for x in done.stdout.split()])
    load, billing, rec, whole, peak, rows = (statistics.median(x) for x in zip(*runs))
    print(f"{args.licenses:,} licenses, {args.licenses:,} billing rows -> {int(rows):,} reconciliation rows "
          f"(medians of {args.repeat}, fresh process each)")
    print(f"load snapshot + license frame {load:6.2f} s")
    print(f"read billing CSV              {billing:6.2f} s")
    print(f"reconcile                     {rec:6.2f} s")
    print(f"whole licenses run + results  {whole:6.2f} s   (load, reconcile, 14 rules, results file)")
    print(f"peak memory                   {peak:6.0f} MB")


if __name__ == "__main__":
    main()
