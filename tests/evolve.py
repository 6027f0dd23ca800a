"""Accounts that live for months, for the tests over time (tests/history/test_over_time.py).

An account is generated in one of the layouts the auditor reads (a legacy snapshot, a
multi-environment one, integration downloads beside an `account.json`) and with one of the
entitlement shapes it reads (LICENSE_SHAPES), then evolved month by month by operations (OPS):
flows added, deleted, enabled and disabled; connections added and merged (two connections to one
instance); licenses changed, renewed, expired and removed; add-on licenses; environments added;
the run history (`jobs.json`) kept or not; the vendor's figures (`usage.json`) and mutes
(`mutes.yaml`) beside them; steps deleted while a flow still refers to them. Each month is written as its own snapshots
(`<root>/<YYYY-MM>/<account>/`), so any month can be audited again by hand.

The shapes of licenses come from auditor/count/entitlements.py and README "How it counts": flat and
nested numbers, add-ons, integrator tiers (a sandbox license too), an entitlement the licenses do
not give (unknown), no license at all, trials, licenses about to expire or expired, the platform plan
with and without its run history.
"""

from __future__ import annotations

import calendar
import random
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import orjson

LAYOUTS = ("legacy", "multi", "download")
LICENSE_SHAPES = ("flat", "nested", "addons", "tier", "tier-free", "tier-sandbox", "tier-unknown", "unknown",
                  "none", "empty", "trial", "trial-tier", "expiring", "expired", "platform", "connector")
OPS = ("add-flow", "delete-flow", "toggle-flow", "add-connection", "merge-connections", "license", "renew",
       "expire", "remove-licenses", "add-on", "add-environment", "jobs", "usage", "mute", "dangle")
TIERS = ("none", "free", "limited", "standard", "premium", "enterprise")
EXTRA_ENVIRONMENTS = ("staging", "dev", "uat", "qa")


def month_ends(first: str = "2025-01", months: int = 24) -> list[date]:
    """The last day of each of `months` months from `first` (YYYY-MM)."""
    year, mon = (int(x) for x in first.split("-"))
    out = []
    for m in range(months):
        y, mo = year + (mon - 1 + m) // 12, (mon - 1 + m) % 12 + 1
        out.append(date(y, mo, calendar.monthrange(y, mo)[1]))
    return out


def stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000Z"


@dataclass
class Account:
    """One account's state; `write` puts it on disk as the snapshot of one month."""

    name: str
    slug: str
    layout: str
    rng: random.Random
    environments: list[str] = field(default_factory=lambda: ["production", "sandbox"])
    connections: dict[str, dict] = field(default_factory=dict)  # id -> {"env", "rec"}
    flows: dict[str, dict] = field(default_factory=dict)  # id -> {"env", "kind", "disabled", "steps"}
    licenses: list[dict] | None = None  # None: no licenses.json
    jobs: bool = False
    env_map: dict[str, str] = field(default_factory=dict)  # account.json `environments`
    usage: bool = False  # a usage.json of the vendor's figures beside account.json
    mutes: list[dict] = field(default_factory=list)  # mutes.yaml beside it
    counter: int = 0
    shapes_seen: set[str] = field(default_factory=set)

    def next_id(self, kind: str) -> str:
        self.counter += 1
        return f"{self.slug}-{kind}{self.counter:03d}"

    # --- connections and flows -------------------------------------------------------------------

    def add_connection(self, env: str) -> str:
        cid = self.next_id("c")
        n = self.rng.randrange(5)
        kind = self.rng.choice(("http", "http", "rest", "netsuite", "netsuite-sb", "salesforce", "ftp", "ftp-tp",
                                "rdbms", "ioapi"))
        rec: dict = {"_id": cid, "name": f"{kind} connection {cid}"}
        if kind in ("http", "rest"):
            rec.update(type=kind, **{kind: {"baseURI": f"https://api{n}.{self.slug}.example.com/v1/",
                                            "auth": {"type": "token", "token": "******"}}})
        elif kind == "netsuite":
            rec.update(type="netsuite", netsuite={"account": f"TSTDRV{n}{len(self.slug)}", "environment": "production"})
        elif kind == "netsuite-sb":
            rec.update(type="netsuite", netsuite={"account": f"TSTDRV{n}_SB1", "environment": "sandbox"})
        elif kind == "salesforce":
            rec.update(type="salesforce", salesforce={"info": {"organization_id": f"00D{n}{self.slug[:3]}"}})
        elif kind in ("ftp", "ftp-tp"):
            rec.update(type="ftp", ftp={"hostURI": f"sftp{n}.partner.example", "type": "sftp",
                                        **({"tradingPartner": True} if kind == "ftp-tp" else {})})
        elif kind == "rdbms":
            rec.update(type="rdbms", rdbms={"type": "postgresql", "host": f"db{n}.example", "port": 5432,
                                            "database": self.slug})
        else:
            rec.update(type="http", assistant="integratorio", http={"baseURI": "https://api.integrator.io"})
        if self.rng.random() < 0.15:
            rec["_agentId"] = f"agent-{n % 2}"
        self.connections[cid] = {"env": env, "rec": rec}
        return cid

    def in_env(self, what: dict, env: str) -> list[str]:
        return [k for k, v in what.items() if v["env"] == env]

    def add_flow(self, env: str) -> str | None:
        conns = self.in_env(self.connections, env) or [self.add_connection(env)]
        fid = self.next_id("f")
        kind = self.rng.choices(("normal", "loader", "free", "app"), weights=(8, 1, 1, 1))[0]
        steps = [self.rng.choice(conns) for _ in range(self.rng.randint(1, 3))]
        self.flows[fid] = {"env": env, "kind": kind, "disabled": False, "steps": steps}
        return fid

    def merge_connections(self) -> None:
        """Two connections of one environment made to reach one instance: the second takes the
        first's identity (as when a connection is pointed at the same server)."""
        for env in self.environments:
            conns = self.in_env(self.connections, env)
            if len(conns) >= 2:
                a, b = self.rng.sample(conns, 2)
                keep = {k: v for k, v in self.connections[b]["rec"].items() if k in ("_id", "name")}
                self.connections[b]["rec"] = {**self.connections[a]["rec"], **keep}
                return

    # --- licenses --------------------------------------------------------------------------------

    def set_license(self, shape: str, today: date) -> None:
        rng, self_id = self.rng, self.next_id("lic")
        self.shapes_seen.add(shape)
        later = stamp(today + timedelta(days=rng.randint(60, 500)))
        nums = lambda: rng.randint(0, 12)  # noqa: E731
        if shape == "none":
            self.licenses = None
            return
        if shape == "empty":
            self.licenses = []
            return
        if shape in ("flat", "addons", "expiring", "expired", "trial", "platform"):
            lic = {"_id": self_id, "type": "platform" if shape == "platform" else "endpoint", "expires": later,
                   "numEndpoints": nums(), "numFlows": nums(), "numTradingPartners": rng.randint(0, 2),
                   "numAgents": rng.randint(0, 2), "numSandboxEndpoints": nums(), "numSandboxFlows": nums()}
            if shape == "addons":
                lic.update(numAddOnEndpoints=rng.randint(1, 3), numAddOnFlows=rng.randint(1, 5),
                           numSandboxAddOnFlows=rng.randint(0, 2), numAddOnAgents=rng.randint(0, 1))
            if shape == "expiring":
                lic["expires"] = stamp(today + timedelta(days=rng.randint(1, 40)))
            if shape == "expired":
                lic["expires"] = stamp(today - timedelta(days=rng.randint(1, 40)))
            if shape == "trial":
                lic["trialEndDate"] = stamp(today + timedelta(days=rng.randint(1, 45)))
        elif shape == "nested":
            lic = {"_id": self_id, "type": "endpoint", "expires": later,
                   "endpoint": {"production": {"numEndpoints": nums(), "numAddOnEndpoints": rng.randint(0, 2),
                                               "numFlows": nums(), "numAddOnFlows": rng.randint(0, 2)},
                                "sandbox": {"numEndpoints": nums(), "numFlows": nums()}}}
        elif shape.startswith("tier") or shape == "trial-tier":
            tier = {"tier-free": "free", "tier-unknown": "professional"}.get(shape, rng.choice(TIERS))
            lic = {"_id": self_id, "type": "integrator", "tier": tier, "expires": later,
                   "numAgents": rng.randint(0, 1)}
            if rng.random() < 0.5 and shape != "tier-free":
                lic["numAddOnFlows"] = rng.randint(1, 4)
            if shape == "tier-sandbox":
                lic["sandbox"] = True
                lic["numSandboxAddOnFlows"] = rng.randint(0, 3)
            if shape == "trial-tier":
                lic["trialEndDate"] = stamp(today + timedelta(days=rng.randint(1, 45)))
        elif shape == "unknown":  # numbers the auditor reads as not given: the entitlement is unknown
            lic = {"_id": self_id, "type": "endpoint", "expires": later, "numEndpoints": "12",
                   "numFlows": nums(), "numSandboxFlows": 2.5}
        elif shape == "connector":  # only an integration app's license: no plan license
            self.licenses = [self.connector_license(today)]
            return
        else:
            raise ValueError(shape)
        self.licenses = [lic] + [x for x in (self.licenses or []) if x.get("type") == "connector"]

    def connector_license(self, today: date) -> dict:
        return {"_id": self.next_id("app"), "type": "connector", "_connectorId": f"app-{self.rng.randrange(3)}",
                "opts": {"connectorEdition": self.rng.choice(("standard", "premium", "enterprise"))},
                "expires": stamp(today + timedelta(days=self.rng.randint(-30, 300)))}

    def plan_license(self) -> dict | None:
        return next((x for x in self.licenses or [] if x.get("type") != "connector"), None)

    # --- one operation ---------------------------------------------------------------------------

    def apply(self, op: str, x: int, today: date) -> None:
        rng = self.rng
        env = self.environments[x % len(self.environments)]
        if op == "add-flow":
            for _ in range(1 + x % 3):
                self.add_flow(env)
        elif op == "delete-flow" and self.flows:
            del self.flows[rng.choice(sorted(self.flows))]
        elif op == "toggle-flow" and self.flows:
            f = self.flows[rng.choice(sorted(self.flows))]
            f["disabled"] = not f["disabled"]
        elif op == "add-connection":
            cid = self.add_connection(env)
            mine = self.in_env(self.flows, env)
            if mine:  # a new connection is put to use by a flow of its environment
                self.flows[rng.choice(mine)]["steps"].append(cid)
        elif op == "merge-connections":
            self.merge_connections()
        elif op == "license":
            self.set_license(LICENSE_SHAPES[x % len(LICENSE_SHAPES)], today)
        elif op == "renew" and self.plan_license():
            self.plan_license()["expires"] = stamp(today + timedelta(days=365))
            self.plan_license().pop("trialEndDate", None)
        elif op == "expire" and self.plan_license():
            self.plan_license()["expires"] = stamp(today.replace(day=1))
            self.shapes_seen.add("expired")
        elif op == "remove-licenses":
            self.licenses = None
            self.shapes_seen.add("none")
        elif op == "add-on":
            self.licenses = (self.licenses or []) + [self.connector_license(today)]
            self.shapes_seen.add("connector")
        elif op == "add-environment" and self.layout == "multi":
            new = next((e for e in EXTRA_ENVIRONMENTS if e not in self.environments), None)
            if new:
                self.environments.append(new)
                if x % 2:
                    self.env_map[new] = "sandbox"
                self.add_flow(new)
        elif op == "jobs":
            self.jobs = not self.jobs
        elif op == "usage":
            self.usage = not self.usage
        elif op == "dangle" and self.flows:  # steps deleted while a flow still refers to them (two, for odd x)
            gone = self.flows[rng.choice(sorted(self.flows))].setdefault("missing", [])
            for _ in range(1 + x % 2):
                gone.append(self.next_id("i-gone-"))
        elif op == "mute":
            rule = ("*-over-entitlement", "license-*", "flows-near-entitlement", "endpoint-identity-unresolved")[x % 4]
            mute = {"rule": rule, "reason": f"accepted in {today:%Y-%m}"}
            if x % 3 == 1:
                mute["expires"] = (today + timedelta(days=rng.randint(-20, 90))).isoformat()
            if x % 5 == 2:
                mute["environment"] = env
            self.mutes.append(mute)

    # --- on disk ---------------------------------------------------------------------------------

    def resources(self, env: str, today: date) -> dict[str, list[dict]]:
        """The snapshot files of one environment (all of them for a legacy or download account)."""
        legacy = self.layout != "multi"
        envs = self.environments if legacy else [env]
        sandbox = (lambda e: {"sandbox": e == "sandbox"}) if legacy else (lambda e: {})
        conns = [{**c["rec"], **sandbox(c["env"])} for c in self.connections.values() if c["env"] in envs]
        exports = [{"_id": f"e-{c['_id']}", "name": f"export {c['_id']}", "adaptorType": "HTTPExport",
                    "_connectionId": c["_id"], **sandbox(self.connections[c["_id"]]["env"])} for c in conns]
        exports.append({"_id": f"{self.slug}-loader", "name": "loader", "adaptorType": "SimpleExport"})
        imports = [{"_id": f"i-{c['_id']}", "name": f"import {c['_id']}", "adaptorType": "HTTPImport",
                    "_connectionId": c["_id"], **sandbox(self.connections[c["_id"]]["env"])} for c in conns]
        flows, jobs = [], []
        for fid, f in self.flows.items():
            if f["env"] not in envs:
                continue
            first = f"{self.slug}-loader" if f["kind"] == "loader" else f"e-{f['steps'][0]}"
            rec = {"_id": fid, "name": f"flow {fid}", "pageGenerators": [{"_exportId": first}],
                   "pageProcessors": [{"type": "import", "_importId": f"i-{s}"} for s in f["steps"][1:] or f["steps"]]
                   + [{"type": "import", "_importId": gone} for gone in f.get("missing", [])],
                   **sandbox(f["env"])}
            if f["disabled"] and self.layout != "download":  # downloads carry no disabled flag
                rec["disabled"] = True
            if f["kind"] == "free":
                rec["free"] = True
            if f["kind"] == "app":
                rec["_connectorId"] = "app-0"
            flows.append(rec)
            if self.jobs and not f["disabled"] and self.rng.random() < 0.7:
                ran = today.replace(day=1 + self.rng.randrange(today.day))
                jobs.append({"_id": f"j-{fid}-{today:%Y%m}", "type": "flow", "_flowId": fid, "status": "completed",
                             "createdAt": stamp(ran), "startedAt": f"{ran.isoformat()}T06:00:01.000Z"})
        out = {"connections": conns, "exports": exports, "imports": imports, "flows": flows}
        if self.jobs and self.layout != "download":
            if jobs:  # and one of the month before: a load note, not a run of this month
                jobs.append({**jobs[0], "_id": jobs[0]["_id"] + "-old", "startedAt": stamp(today.replace(day=1) - timedelta(days=3))})
            out["jobs"] = jobs
        return out

    def vendor_figures(self) -> dict:
        """usage.json: what the vendor's UI says, near ours but not always the same: some
        environments and blocks missing, a flow or a connection left out or grouped otherwise."""
        rng, out = self.rng, {}
        for env in self.environments:
            if rng.random() < 0.2:
                continue
            conns = [c for c in self.in_env(self.connections, env) if rng.random() < 0.9]
            groups: dict[str, list] = {}
            for cid in conns:
                groups.setdefault(self.connections[cid]["rec"].get("type", "http"), []).append({"_id": cid})
            flows = [{"_id": f} for f in self.in_env(self.flows, env) if not self.flows[f]["disabled"] and rng.random() < 0.9]
            block = {"endpointUsage": {"numConsumed": len(groups) + rng.randint(-1, 1) if groups else 0,
                                       "endpoints": [{"type": t, "connections": c} for t, c in groups.items()]},
                     "flowUsage": {"numEnabled": len(flows), "flows": flows}}
            if rng.random() < 0.5:
                block["tradingPartnerUsage"] = {"numConsumed": rng.randint(0, 1), "tradingPartners": []}
            if rng.random() < 0.5:
                block["agentUsage"] = {"numActive": rng.randint(0, 1), "agents": []}
            out[env] = block
        return out

    def write(self, folder: Path, today: date) -> Path:
        """This month's snapshot of the account in `folder`; returns it."""
        folder.mkdir(parents=True)
        account = {"name": self.name}
        if self.layout == "multi":
            account["licenseModel"] = "multi-environment"
            if self.env_map:
                account["environments"] = dict(self.env_map)
        elif self.layout == "legacy":
            account["licenseModel"] = "legacy"
        put = lambda path, value: path.write_bytes(orjson.dumps(value))  # noqa: E731
        put(folder / "account.json", account)
        if self.licenses is not None:
            put(folder / "licenses.json", self.licenses)
        if self.usage:
            put(folder / "usage.json", self.vendor_figures())
        if self.mutes:
            (folder / "mutes.yaml").write_text("mutes:\n" + "".join(
                "  - " + "\n    ".join(f"{k}: {orjson.dumps(v).decode()}" for k, v in m.items()) + "\n"
                for m in self.mutes))
        if self.layout == "legacy":
            for name, rows in self.resources("production", today).items():
                put(folder / f"{name}.json", rows)
        elif self.layout == "multi":
            for env in self.environments:
                (folder / env).mkdir()
                for name, rows in self.resources(env, today).items():
                    put(folder / env / f"{name}.json", rows)
        else:
            self.write_downloads(folder, today)
        return folder

    def write_downloads(self, folder: Path, today: date) -> None:
        """Two integration downloads of the account, the second zipped: flows split between them,
        each with the connections, exports and imports its flows use (shared ones in both)."""
        res = self.resources("production", today)
        by_id = {name: {r["_id"]: r for r in rows} for name, rows in res.items() if name != "jobs"}
        halves = [res["flows"][::2], res["flows"][1::2]]
        for n, flows in enumerate(halves):
            files: dict[str, bytes] = {"integration.json": orjson.dumps({"_id": f"{self.slug}-int{n}",
                                                                         "name": f"Integration {n}"})}
            for f in flows:
                steps = [g["_exportId"] for g in f["pageGenerators"]] + [p["_importId"] for p in f["pageProcessors"]]
                files[f"flows/Flow-{f['_id']}.json"] = orjson.dumps(f)
                for step in steps:
                    kind = "exports" if step in by_id["exports"] else "imports"
                    rec = by_id[kind].get(step)
                    if rec is None:  # a step the account no longer has: the download lacks it too
                        continue
                    files[f"{kind}/Step-{step}.json"] = orjson.dumps(rec)
                    if "_connectionId" in rec:
                        files[f"connections/Conn-{rec['_connectionId']}.json"] = \
                            orjson.dumps(by_id["connections"][rec["_connectionId"]])
            if n == 0:
                for path, body in files.items():
                    (folder / "part0" / path).parent.mkdir(parents=True, exist_ok=True)
                    (folder / "part0" / path).write_bytes(body)
            else:
                with zipfile.ZipFile(folder / "part1.zip", "w") as z:
                    for path, body in sorted(files.items()):
                        z.writestr(path, body)


@dataclass
class Spec:
    """How an account starts: its layout, its first license shape, whether its run history is kept."""

    layout: str
    shape: str
    jobs: bool = False


def start(specs: list[Spec], seed: int, today: date) -> list[Account]:
    """The accounts as they are in the first month: a few connections and flows in each environment."""
    accounts = []
    for i, spec in enumerate(specs):
        acct = Account(name=f"Account {i} ({spec.layout}, {spec.shape})", slug=f"a{i}", layout=spec.layout,
                       rng=random.Random(seed * 1000 + i), jobs=spec.jobs)
        acct.set_license(spec.shape, today)
        for env in acct.environments:
            for _ in range(2):
                acct.add_connection(env)
            for _ in range(3 if env == "production" else 1):
                acct.add_flow(env)
        accounts.append(acct)
    return accounts


Plan = list[list[tuple[str, int, int]]]  # per month: (operation, account number, its parameter)


def evolve(root: Path, specs: list[Spec], plan: Plan, seed: int = 0, first: str = "2025-01"):
    """Yield (month end, snapshot folders) for each month of `plan`: the accounts of `specs`, after
    that month's operations, written under `root/<YYYY-MM>/`. The first month is as started."""
    days = month_ends(first, len(plan))
    accounts = start(specs, seed, days[0])
    for m, (day, ops) in enumerate(zip(days, plan)):
        if m:
            for op, a, x in ops:
                accounts[a % len(accounts)].apply(op, x, day)
        yield day, [acct.write(root / f"{day:%Y-%m}" / acct.slug, day) for acct in accounts], accounts


def random_specs(rng: random.Random) -> list[Spec]:
    """Two to four accounts of random layouts and shapes."""
    return [Spec(rng.choice(LAYOUTS), rng.choice(LICENSE_SHAPES), rng.random() < 0.5) for _ in range(rng.randint(2, 4))]


def random_plan(rng: random.Random, months: int = 24) -> Plan:
    """Up to four random operations a month."""
    return [[(rng.choice(OPS), rng.randrange(8), rng.randrange(64)) for _ in range(rng.randint(0, 4))]
            for _ in range(months)]


# Every shape in one run of 24 months: the accounts start in different layouts and shapes, and the
# plan takes each through the other license shapes, expiries, removals, add-ons and environments.
TOUR_SPECS = [Spec("legacy", "flat"), Spec("multi", "nested"), Spec("download", "tier"),
              Spec("legacy", "platform", jobs=True)]


def tour(months: int = 24) -> Plan:
    plan: Plan = [[]]
    for m in range(1, months):
        ops = [("add-flow", m, m), ("toggle-flow", m + 1, 0), ("license", m, (3 * m) % len(LICENSE_SHAPES))]
        ops.append([("add-connection", m + 2, m), ("merge-connections", m, 0), ("delete-flow", m + 3, 0),
                    ("add-environment", 1, m), ("expire", m + 1, 0), ("add-on", m + 2, 0), ("renew", m + 3, 0),
                    ("remove-licenses", m, 0), ("jobs", 3, 0), ("license", 3, LICENSE_SHAPES.index("platform"))][m % 10])
        if m % 4 == 1:
            ops += [("usage", m, 0), ("mute", m + 1, m)]
        if m % 8 == 3:
            ops.append(("dangle", m, m))
        plan.append(ops)
    return plan
