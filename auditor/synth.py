"""Synthetic accounts of any size, for benchmarks and tests.

Each generated account is a legacy snapshot folder (connections, exports, imports, flows,
integrations, licenses). The generator also writes `expected.json`: for every account and
environment, the billable flows and endpoints the default policy should count, worked out here
from what it generated rather than by the auditor's code.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson


def _conn(rng: random.Random, acct: int, j: int, sandbox: bool) -> tuple[dict, str | None]:
    """A connection and the endpoint key the default policy gives it (None: not an endpoint)."""
    cid = f"{acct:06x}c{j:05x}".rjust(24, "0")
    kind = rng.choice(("netsuite", "netsuite-sb", "http", "http", "rest", "salesforce", "ftp", "rdbms", "ioapi"))
    base = {"_id": cid, "name": f"conn {j}", "sandbox": sandbox, "createdAt": "2024-01-01T00:00:00.000Z"}
    n = rng.randrange(4)
    if kind == "netsuite":
        return {**base, "type": "netsuite", "netsuite": {"account": f"TSTDRV{acct}{n}", "environment": "production",
                                                         "tokenSecret": "******"}}, f"netsuite:TSTDRV{acct}{n}"
    if kind == "netsuite-sb":
        return {**base, "type": "netsuite", "netsuite": {"account": f"TSTDRV{acct}_SB{n + 1}", "environment": "sandbox"}}, \
            "netsuite:sandboxes"
    if kind in ("http", "rest"):
        uri = f"https://api{n}.shop{acct}.example.com/v1"
        return {**base, "type": kind, "assistant": "shopify" if kind == "http" else None,
                kind: {"baseURI": uri + "/", "auth": {"token": "******"}}}, f"uri:{uri}"
    if kind == "salesforce":
        return {**base, "type": "salesforce", "salesforce": {"info": {"organization_id": f"00D{acct}{n}"}}}, \
            f"salesforce:00D{acct}{n}"
    if kind == "ftp":
        return {**base, "type": "ftp", "ftp": {"hostURI": f"ftp{n}.acct{acct}.example", "type": "sftp"}}, \
            f"ftp:ftp{n}.acct{acct}.example:22"
    if kind == "rdbms":
        return {**base, "type": "rdbms", "rdbms": {"type": "postgresql", "host": f"db{n}.example", "port": 5432,
                                                   "database": f"d{acct}"}}, f"postgresql:db{n}.example:5432/d{acct}"
    return {**base, "type": "http", "assistant": "integratorio", "http": {"baseURI": "https://api.integrator.io"}}, None


def generate(out: Path, accounts: int, flows_per_account: int = 200, connections_per_account: int = 40,
             seed: int = 1, late_key_at: int | None = None) -> dict:
    """Write `accounts` snapshot folders under `out`; return (and write) the expected counts.

    Per account: `connections_per_account` connections, twice as many exports, three times as many
    imports, and `flows_per_account` flows (disabled, free, data-loader and sandbox among them).
    `late_key_at`: the global flow number from which flows carry `free: true` for the first time,
    to check that a key first seen late in a big file is read.
    """
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    expected: dict = {}
    flow_no = 0
    for a in range(accounts):
        folder = out / f"acct-{a:05d}"
        folder.mkdir(exist_ok=True)
        nconn = connections_per_account
        conns, keys, env_of = [], [], []
        for j in range(nconn):
            sandbox = j % 5 == 4
            c, key = _conn(rng, a, j, sandbox)
            conns.append(c)
            keys.append(key)
            env_of.append("sandbox" if sandbox else "production")
        exports = [{"_id": f"{a:06x}e{j:05x}".rjust(24, "0"), "name": f"export {j}", "adaptorType": "HTTPExport",
                    "_connectionId": conns[j % nconn]["_id"], "sandbox": conns[j % nconn]["sandbox"]}
                   for j in range(2 * nconn)]
        exports.append({"_id": f"{a:06x}eloader".rjust(24, "0"), "name": "loader", "adaptorType": "SimpleExport"})
        imports = [{"_id": f"{a:06x}i{j:05x}".rjust(24, "0"), "name": f"import {j}", "adaptorType": "HTTPImport",
                    "_connectionId": conns[j % nconn]["_id"], "sandbox": conns[j % nconn]["sandbox"]}
                   for j in range(3 * nconn)]
        flows = []
        counts = {env: {"billable": 0, "endpoints": set()} for env in ("production", "sandbox")}
        # a flow uses connections of its own environment
        picks = {sb: [j for j in range(nconn) if conns[j]["sandbox"] == sb] or list(range(nconn)) for sb in (False, True)}
        for k in range(flows_per_account):
            sandbox = k % 5 == 4
            pick = picks[sandbox]
            e = rng.choice(pick)
            exp_idx = e if rng.random() < 0.5 else e + nconn
            imps = [rng.choice(pick) + nconn * rng.randrange(3) for _ in range(rng.randint(1, 3))]
            flow = {"_id": f"{a:06x}f{k:05x}".rjust(24, "0"), "name": f"flow {k}", "sandbox": sandbox,
                    "_integrationId": None, "lastExecutedAt": "2026-11-01T00:00:00.000Z"}
            roll = rng.random()
            loader = roll < 0.03
            flow["pageGenerators"] = [{"_exportId": exports[-1]["_id"] if loader else exports[exp_idx]["_id"]}]
            if rng.random() < 0.3 and len(imps) > 1:
                flow["routers"] = [{"branches": [{"pageProcessors": [{"type": "import", "_importId": imports[i]["_id"]}]}
                                                 for i in imps]}]
            else:
                flow["pageProcessors"] = [{"type": "import", "_importId": imports[i]["_id"]} for i in imps]
            disabled = 0.03 <= roll < 0.13
            if disabled:
                flow["disabled"] = True
            free = late_key_at is not None and flow_no >= late_key_at and roll > 0.95
            if free:
                flow["free"] = True
            flow_no += 1
            flows.append(flow)
            env = "sandbox" if sandbox else "production"
            if not disabled:
                if not loader and not free:
                    counts[env]["billable"] += 1
                used = [] if loader else [exp_idx % nconn]
                used += [i % nconn for i in imps]
                counts[env]["endpoints"].update(keys[j] for j in used if keys[j] is not None)
        lic = [{"_id": f"{a:06x}l0".rjust(24, "0"), "type": "endpoint", "expires": "2027-01-31T00:00:00.000Z",
                "numEndpoints": 10 + a % 20, "numFlows": 100 + a % 150, "numSandboxEndpoints": 5, "numSandboxFlows": 50}]
        for name, rows in (("connections", conns), ("exports", exports), ("imports", imports), ("flows", flows),
                           ("integrations", []), ("licenses", lic)):
            (folder / f"{name}.json").write_bytes(orjson.dumps(rows))
        expected[folder.name] = {env: {"billable": c["billable"], "endpoints": len(c["endpoints"])}
                                 for env, c in counts.items()}
    (out / "expected.json").write_bytes(orjson.dumps(expected, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return expected


def monthly(out: Path, months: int = 12, first: str = "2026-01", seed: int = 1,
            connections: tuple[int, int] = (6, 1), flows: tuple[int, int] = (24, 4)) -> list[tuple[str, Path]]:
    """One account audited month after month as it grows: `months` snapshot folders under `out`
    (`<YYYY-MM>/acme-synth`), each the one before plus `connections[1]` connections and
    `flows[1]` flows; returns (audit date, folder) pairs, the audit on the 28th of each month.

    The account is generated once at its largest and each month keeps a growing prefix of it, so
    that ids stay stable from month to month, as in a real account.
    """
    full = out / "_full"
    generate(full, 1, flows_per_account=flows[0] + flows[1] * months,
             connections_per_account=connections[0] + connections[1] * months, seed=seed)
    src = full / "acct-00000"
    data = {name: orjson.loads((src / f"{name}.json").read_bytes())
            for name in ("connections", "exports", "imports", "flows", "licenses")}
    year, mon = (int(x) for x in first.split("-"))
    made = []
    for m in range(months):
        nconn = connections[0] + connections[1] * m
        keep = {c["_id"] for c in data["connections"][:nconn]}
        exports = [e for e in data["exports"] if e.get("_connectionId") in keep or "_connectionId" not in e]
        imports = [i for i in data["imports"] if i["_connectionId"] in keep]
        ids = {e["_id"] for e in exports} | {i["_id"] for i in imports}

        def steps(flow):
            yield from (g["_exportId"] for g in flow.get("pageGenerators", []))
            yield from (p["_importId"] for p in flow.get("pageProcessors", []))
            for router in flow.get("routers", []):
                for branch in router["branches"]:
                    yield from (p["_importId"] for p in branch["pageProcessors"])

        usable = [f for f in data["flows"] if all(s in ids for s in steps(f))]
        month = f"{year + (mon - 1 + m) // 12:04d}-{(mon - 1 + m) % 12 + 1:02d}"
        folder = out / month / "acme-synth"
        folder.mkdir(parents=True, exist_ok=True)
        for name, rows in (("connections", data["connections"][:nconn]), ("exports", exports), ("imports", imports),
                           ("flows", usable[:flows[0] + flows[1] * m]), ("integrations", []),
                           ("licenses", data["licenses"])):
            (folder / f"{name}.json").write_bytes(orjson.dumps(rows))
        (folder / "account.json").write_bytes(orjson.dumps({"name": "Acme Synth"}))
        made.append((f"{month}-28", folder))
    return made
