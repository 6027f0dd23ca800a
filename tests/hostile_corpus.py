"""A generated corpus of hostile and careless inputs, each with the outcome it must have.

Every case starts from one healthy snapshot and spoils it in one way. Its expected outcome is
one of:

- ``error``: the run stops, exit 2, one line on standard error naming the file (and the words
  given), no results file written;
- ``issue``: the run completes and `load_issues` holds a problem with the words given (the
  record is skipped or noted, every other record counted);
- ``counted``: the run completes and the case's own check holds on the results;
- ``survives`` (seeded mutations, `mutation_cases`): the run completes or stops cleanly.

Whatever the outcome, no case may crash (exit 3), print a traceback, hang, let the canary secret
reach any output, or print a raw control character. `tests/hostile/test_hostile_corpus.py` runs them
all; `python tests/hostile_corpus.py DIR` writes them out to try by hand (`auditor audit DIR/<case>/...`).
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import random
import sys
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CANARY = "CANARYz9Q"  # a secret planted in the input: it must never come out
ESC = "\x1b"

LICENSE = {"_id": "lic", "type": "endpoint", "expires": "2027-12-31T00:00:00.000Z", "numEndpoints": 10,
           "numFlows": 10, "numSandboxEndpoints": 2, "numSandboxFlows": 2, "numTradingPartners": 1}


def base() -> dict[str, list | dict]:
    """A healthy legacy account: two connections, two flows, a license with room to spare."""
    return {
        "connections": [
            {"_id": "c-ns", "name": "NetSuite", "type": "netsuite", "netsuite": {"account": "1234567"}},
            {"_id": "c-http", "name": "Shop", "type": "http", "http": {"baseURI": "https://api.shop.example.com/v1"}},
        ],
        "exports": [{"_id": "e-ns", "name": "orders", "_connectionId": "c-ns", "adaptorType": "NetSuiteExport"}],
        "imports": [{"_id": "i-http", "name": "to shop", "_connectionId": "c-http", "adaptorType": "HTTPImport"}],
        "flows": [
            {"_id": "f1", "name": "Orders", "pageGenerators": [{"_exportId": "e-ns"}],
             "pageProcessors": [{"type": "import", "_importId": "i-http"}]},
            {"_id": "f2", "name": "Off", "disabled": True, "pageGenerators": [{"_exportId": "e-ns"}]},
        ],
        "licenses": [copy.deepcopy(LICENSE)],
        "account.json": {"name": "Hostile"},
    }


@dataclass
class Case:
    name: str
    klass: str  # the class of input it stands for
    expect: str  # "error" | "issue" | "counted"
    needles: tuple[str, ...] = ()  # error: words of the one line; issue: words of a load issue
    check: Callable[[dict], None] | None = None  # counted: a check on the results file
    files: dict = field(default_factory=base)  # name -> records (JSON), bytes, or a callable(path)
    target: str = "acct"  # what the audit is run on, under the case's folder
    extra_args: tuple[str, ...] = ()

    def build(self, folder: Path) -> list[str]:
        """Write the case under `folder`; the command-line arguments that audit it."""
        root = folder / "acct"
        root.mkdir(parents=True, exist_ok=True)
        for name, value in self.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if callable(value):
                value(path)
            elif isinstance(value, bytes):
                path.write_bytes(value)
            elif isinstance(value, str):
                path.write_text(value)
            else:  # records: as JSON, named <resource>.json
                (path if name.endswith(".json") else path.with_name(path.name + ".json")).write_text(json.dumps(value))
        return [str(folder / self.target), *self.extra_args]


def _with(change: Callable[[dict], None]) -> dict:
    files = base()
    change(files)
    return files


def _raw(resource: str, body: str | bytes) -> dict:
    """The healthy account with one resource file replaced by `body` as it is."""
    def change(files):
        files.pop(resource, None)
        files[f"{resource}.json"] = body.encode() if isinstance(body, str) else body
    return _with(change)


def _env(results: dict, name: str = "production") -> dict:
    return next(e for e in results["accounts"][0]["environments"] if e["environment"] == name)


def _counts(flows: int, endpoints: int, env: str = "production") -> Callable[[dict], None]:
    def check(results):
        e = _env(results, env)
        assert (e["flows"]["billable"], e["endpoints"]["used"]) == (flows, endpoints), e
    return check


def _issue(*words: str) -> Callable[[dict], None]:
    def check(results):
        assert any(all(w in i["problem"] for w in words) for i in results["load_issues"]), results["load_issues"]
    return check


def _key_of(connection: str, *, startswith: str | None = None, resolved: bool | None = None) -> Callable[[dict], None]:
    def check(results):
        acct = results["accounts"][0]
        conn = next(c for c in acct["connections"] if c["id"] == connection)
        if startswith is not None:
            assert conn["key"].startswith(startswith), conn["key"]
        if resolved is not None:
            ep = next(e for e in acct["endpoints"] if e["key"] == conn["key"])
            assert ep["resolved"] is resolved, ep
    return check


def _all(*checks: Callable[[dict], None]) -> Callable[[dict], None]:
    def check(results):
        for c in checks:
            c(results)
    return check


# --- unreadable files: every resource, every way a file can fail to be a JSON array ------------

BAD_BODIES = {
    "null": ("null", "must hold a JSON array of records, not null"),
    "number": ("7", "must hold a JSON array"),
    "string": ('"flows"', "must hold a JSON array"),
    "object": ('{"_id": "x"}', "must hold a JSON array of records, not an object"),
    "trailing-comma": ('[{"_id": "x"},]', "not valid JSON at line 1"),
    "trailing-object-text": ('[{"_id": "x"}],"x":0', "not valid JSON at line 1"),
    "trailing-text": ('[{"_id": "x"}] more', "not valid JSON at line 1"),
    "nan": ('[{"_id": "x", "n": NaN}]', "not valid JSON at line 1"),
    "infinity": ('[{"_id": "x", "n": Infinity}]', "not valid JSON at line 1"),
    "truncated": ('[{"_id": "x"', "not valid JSON"),
    "comment": ('[{"_id": "x"} /* note */]', "not valid JSON at line 1"),
    "single-quotes": ("[{'_id': 'x'}]", "not valid JSON at line 1"),
    "binary": (b"\x00\x01\x02\xff\xfe", "not valid JSON"),
}


def unreadable_cases() -> list[Case]:
    cases = []
    for resource in ("flows", "connections", "exports", "imports", "licenses"):
        for label, (body, words) in BAD_BODIES.items():
            cases.append(Case(f"{resource}-{label}", "unreadable file", "error", (f"{resource}.json", words),
                              files=_raw(resource, body)))
        cases.append(Case(f"{resource}-corrupt-gzip", "corrupt gzip", "error",
                          (f"{resource}.json.gz", "not a readable gzip file"), files=_corrupt_gzip(resource)))
    cases.append(Case("flows-ndjson-bad-line", "unreadable file", "error", ("flows.ndjson", "line 2"),
                      files=_with(lambda f: (f.pop("flows"), f.update({"flows.ndjson": '{"_id": "a"}\n{"_id": \n'})))))
    cases.append(Case("account-json-not-json", "bad account.json", "error", ("account.json", "not valid JSON"),
                      files=_with(lambda f: f.update({"account.json": b"{name: x}"}))))
    cases.append(Case("account-json-unknown-key", "bad account.json", "error", ("account.json", "owner"),
                      files=_with(lambda f: f.update({"account.json": {"name": "x", "owner": "y"}}))))
    cases.append(Case("account-json-bad-model", "bad account.json", "error", ("account.json", "licenseModel"),
                      files=_with(lambda f: f.update({"account.json": {"licenseModel": "cloud"}}))))
    return cases


def _corrupt_gzip(resource: str) -> dict:
    def change(files):
        data = gzip.compress(json.dumps(files.pop(resource) * 50).encode())
        files[f"{resource}.json.gz"] = data[:12] + b"\xff" * 24 + data[36:]
    return _with(change)


# --- archives and the file system ---------------------------------------------------------------

def _zip(entries: list[tuple[str, bytes]], *, encrypt: bool = False, link: str | None = None) -> Callable[[Path], None]:
    def write(path: Path):
        with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as z:
            warnings.simplefilter("ignore")  # a name twice is the point of one case
            for name, data in entries:
                z.writestr(name, data)
            if link:
                info = zipfile.ZipInfo(link)
                info.external_attr = (0o120777 << 16)
                z.writestr(info, "../../etc/passwd")
        if encrypt:  # the encryption flag, as a password-protected zip has it
            data = bytearray(path.read_bytes())
            for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
                i = data.find(sig)
                while i >= 0:
                    data[i + off] |= 1
                    i = data.find(sig, i + 4)
            path.write_bytes(bytes(data))
    return write


def _healthy_entries() -> list[tuple[str, bytes]]:
    return [(f"{k}.json" if not k.endswith(".json") else k, json.dumps(v).encode()) for k, v in base().items()]


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _symlink(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def filesystem_cases() -> list[Case]:
    zips = [
        Case("zip-empty", "empty zip", "error", ("x.zip", "empty"), files={"../x.zip": _zip([])}, target="x.zip"),
        Case("zip-encrypted", "encrypted zip", "error", ("x.zip", "encrypted"),
             files={"../x.zip": _zip(_healthy_entries(), encrypt=True)}, target="x.zip"),
        Case("zip-duplicate-entry", "zip with an entry twice", "error", ("x.zip", "twice"),
             files={"../x.zip": _zip(_healthy_entries() + [("flows.json", b"[]")])}, target="x.zip"),
        Case("zip-slip", "zip entry outside the archive", "error", ("x.zip", "outside the archive"),
             files={"../x.zip": _zip(_healthy_entries() + [("../evil.json", b"[]")])}, target="x.zip"),
        Case("zip-not-a-zip", "not a zip", "error", ("x.zip", "not a readable zip"),
             files={"../x.zip": b"PK\x03\x04 not really"}, target="x.zip"),
        Case("zip-symlink-entry", "link stored in a zip", "issue", ("not read", "symbolic link"),
             files={"../x.zip": _zip(_healthy_entries(), link="connections-extra.json")}, target="x.zip"),
        Case("zip-hostile-folder-name", "control characters in an error message", "error", ("not valid JSON",),
             files={"../x.zip": _zip([(f"snap{ESC}[2J\r\nError: all fine {ESC}]0;t\x07/flows.json", b"[1,"),
                                      ("snap\r\nError: all fine/account.json", b"{}")])}, target="x.zip"),
        Case("zip-healthy", "healthy zip", "counted", check=_counts(1, 2),
             files={"../x.zip": _zip(_healthy_entries())}, target="x.zip"),
    ]
    fs = [
        Case("fifo-as-flows", "not a regular file", "error", ("flows.json", "not a regular file"),
             files=_with(lambda f: (f.pop("flows"), f.update({"flows.json": _fifo})))),
        Case("fifo-as-account-json", "not a regular file", "error", ("account.json", "not a regular file"),
             files=_with(lambda f: f.update({"account.json": _fifo}))),
        Case("fifo-stray", "not a regular file", "issue", ("not read", "not a regular file"),
             files=_with(lambda f: f.update({"pipe": _fifo}))),
        Case("link-pages-to-snapshot", "symbolic link out of its folder", "issue", ("not read", "symbolic link"),
             files=_with(lambda f: (f.pop("flows"), f.update({"flows.json": b"[]", "imports": _symlink(".")})))),
        Case("link-file-outside", "symbolic link out of its folder", "issue", ("not read", "symbolic link"),
             files=_with(lambda f: (f.pop("flows"), f.update({"../elsewhere.json": json.dumps(base()["flows"]),
                                                              "flows.json": _symlink("../elsewhere.json")})))),
        Case("link-file-same-folder", "symbolic link in its folder", "counted", check=_counts(1, 2),
             files=_with(lambda f: f.update({"flows-real.json": f.pop("flows"), "flows.json": _symlink("flows-real.json")}))),
        Case("upper-case-names", "names in another case", "counted", check=_counts(1, 2),
             files=_with(lambda f: f.update({"Flows.JSON": json.dumps(f.pop("flows"))}))),
        Case("folder-named-like-a-file", "folder named like a file", "error", ("flows.json", "is a folder"),
             files=_with(lambda f: (f.pop("flows"), f.update({"flows.json/page-1.json": b"[]"})))),
        Case("unknown-file", "file not recognised", "issue", ("notes.txt", "not read"),
             files=_with(lambda f: f.update({"notes.txt": "hello"}))),
        Case("unknown-folder", "folder not recognised", "issue", ("not read", "folder"),
             files=_with(lambda f: f.update({"backup/flows.txt": "x"}))),
        Case("page-gap", "paged folder with a gap", "error", ("flows", "page-3 is missing"),
             files=_with(lambda f: (f.pop("flows"), f.update({"flows/page-1.json": b"[]", "flows/page-2.json": b"[]",
                                                              "flows/page-4.json": b"[]"})))),
        Case("page-twice", "paged folder with a page twice", "error", ("flows", "page 1 is given by 2 files"),
             files=_with(lambda f: (f.pop("flows"), f.update({"flows/page-1.json": b"[]", "flows/page-01.json": b"[]",
                                                              "flows/page-2.json": b"[]"})))),
        Case("manifest-missing-file", "fewer pages than the manifest", "error", ("manifest.json", "missing"),
             files=_with(lambda f: f.update({"manifest.json": {"files": [{"path": "flows/page-00002.json",
                                                                          "bytes": 2, "sha256": "0"}]}}))),
        Case("manifest-size-differs", "fewer records than the manifest", "error", ("manifest.json", "bytes"),
             files=_with(lambda f: f.update({"manifest.json": {"files": [{"path": "flows.json", "bytes": 99999,
                                                                          "sha256": "0"}]}}))),
        Case("manifest-path-escape", "id from the data as a path", "error", ("manifest.json", "outside"),
             files=_with(lambda f: f.update({"manifest.json": {"files": [{"path": "../../etc/passwd", "bytes": 1}]}}))),
        Case("env-named-missing", "environment named but missing", "issue", ("environment staging", "missing"),
             files=_multi_env(with_staging=False)),
        Case("env-named-empty", "environment named but empty", "issue", ("environment staging", "empty"),
             files=_multi_env(with_staging=True)),
        Case("integer-beyond-64-bits", "numbers JSON allows that parsers may not", "counted", check=_counts(1, 2),
             files=_with(lambda f: f["flows"][0].update(runs=10**20))),
        Case("license-integer-beyond-64-bits", "numbers JSON allows that parsers may not", "issue",
             ("numFlows is too large",), files=_with(lambda f: f["licenses"][0].update(numFlows=10**20))),
        Case("empty-file", "empty resource file", "issue", ("the file is empty",),
             files=_raw("integrations", "")),
        Case("whitespace-file", "empty resource file", "issue", ("the file is empty",),
             files=_raw("integrations", "  \n\t ")),
    ]
    return zips + fs


def _multi_env(with_staging: bool) -> dict:
    files = {f"production/{k}": v for k, v in base().items() if k not in ("account.json", "licenses")}
    files["licenses"] = base()["licenses"]
    files["account.json"] = {"name": "Multi", "licenseModel": "multi-environment", "environments": {"staging": "sandbox"}}
    if with_staging:
        files["staging/.keep"] = ""
    return files


# --- records: every declared field with a wrong type, and the other ways a record goes bad -------

WRONG_FIELDS = [
    ("flows", "disabled", "yes", "disabled must be true or false"),
    ("flows", "free", "true", "free must be true or false"),
    ("flows", "sandbox", 1, "sandbox must be true or false"),
    ("flows", "pageGenerators", {"_exportId": "e-ns"}, "pageGenerators must be an array"),
    ("flows", "pageProcessors", "i-http", "pageProcessors must be an array"),
    ("flows", "routers", 5, "routers must be an array"),
    ("flows", "_integrationId", 5, "_integrationId must be a string"),
    ("flows", "name", ["x"], "name must be a string"),
    ("exports", "_connectionId", {"id": "c-ns"}, "_connectionId must be a string"),
    ("exports", "adaptorType", 3, "adaptorType must be a string"),
    ("imports", "_connectionId", 7, "_connectionId must be a string"),
    ("connections", "type", 1, "type must be a string"),
    ("connections", "http", "https://x", "http must be an object"),
    ("connections", "_agentId", [], "_agentId must be a string"),
]


STEP_SHAPES = [
    ("step-not-object", {"pageGenerators": [5]}, "pageGenerators[] must be an object"),
    ("step-null", {"pageProcessors": [None, "x"]}, "pageProcessors[] must be an object"),
    ("export-id-number", {"pageGenerators": [{"_exportId": 5}]}, "pageGenerators[]._exportId must be a string"),
    ("import-id-array", {"pageProcessors": [{"_importId": ["i-http"]}]}, "pageProcessors[]._importId must be a string"),
    ("router-not-object", {"routers": [7]}, "routers[] must be an object"),
    ("branches-not-array", {"routers": [{"branches": "x"}]}, "routers[].branches must be an array"),
    ("branch-not-object", {"routers": [{"branches": [1]}]}, "routers[].branches[] must be an object"),
    ("branch-steps-not-array", {"routers": [{"branches": [{"pageProcessors": {}}]}]},
     "routers[].branches[].pageProcessors must be an array"),
    ("branch-import-id-object", {"routers": [{"branches": [{"pageProcessors": [{"_importId": {"id": "i"}}]}]}]},
     "routers[].branches[].pageProcessors[]._importId must be a string"),
]


def record_cases() -> list[Case]:
    cases = []
    for label, shape, words in STEP_SHAPES:
        cases.append(Case(f"flows-{label}", "flow steps of the wrong shape", "issue", (words, "leads nowhere"),
                          files=_with(lambda f, shape=shape: f["flows"].append({"_id": "f9", **shape}))))
    for resource, fieldname, value, words in WRONG_FIELDS:
        def change(files, resource=resource, fieldname=fieldname, value=value):
            files[resource][-1][fieldname] = value
        cases.append(Case(f"{resource}-{fieldname}-wrong-type", "field of the wrong type", "issue", (words,),
                          files=_with(change)))
    for label, record, words in (
        ("no-id", {"name": "x"}, "has no _id"), ("id-number", {"_id": 5}, "_id must be a string"),
        ("id-null", {"_id": None}, "has no _id"), ("string-record", "f9", "is not a JSON object"),
        ("number-record", 9, "is not a JSON object"),
        ("null-record", None, "has no _id"),  # the fast reader cannot tell null from {}: skipped all the same
        ("array-record", [1], "is not a JSON object"), ("duplicate-id", {"_id": "f1"}, "same _id"),
    ):
        cases.append(Case(f"flows-{label}", "bad record", "issue", (words,),
                          files=_with(lambda f, r=record: f["flows"].append(r))))
    cases.append(Case("flows-duplicate-key", "a key twice in a record", "issue", ("disabled twice",),
                      files=_raw("flows", '[{"_id": "f1", "disabled": true, "disabled": false}]')))
    cases.append(Case("flows-duplicate-id-key", "a key twice in a record", "issue", ("_id twice",),
                      files=_raw("flows", '[{"_id": "f1", "_id": "f2"}]')))
    conns = json.dumps(base()["connections"])[:-1]
    cases.append(Case("connection-block-duplicate-key", "a key twice in a record", "issue", ("account twice",),
                      files=_raw("connections", conns + ', {"_id": "c3", "type": "netsuite", '
                                 '"netsuite": {"account": "1", "account": "2"}}]')))
    return cases


# --- identity fields of the wrong type, and credentials inside identity fields -----------------

IDENTITY_WRONG = [
    ("ftp", {"hostURI": 12}, "ftp.hostURI must be a string"),
    ("ftp", {"hostURI": "ftp.example.com", "tradingPartner": "yes"}, "ftp.tradingPartner must be true or false"),
    ("ftp", {"hostURI": "ftp.example.com", "port": "twenty-one"}, "ftp.port must be a port number"),
    ("http", {"baseURI": {"url": "https://x"}}, "http.baseURI must be a string"),
    ("salesforce", {"info": "00D000"}, "salesforce.info must be an object"),
    ("rdbms", {"type": "mysql", "host": "db", "port": 99999, "database": "d"}, "rdbms.port must be a port number"),
    ("rdbms", {"type": "mysql", "host": ["db"], "database": "d"}, "rdbms.host must be a string"),
    ("mongodb", {"host": [1, 2], "database": "d"}, "mongodb.host must hold strings only"),
    ("netsuite", {"account": 1234567}, "netsuite.account must be a string"),
    ("as2", {"partnerId": ["p"]}, "as2.partnerId must be a string"),
    ("s3", {"accessKeyId": 5}, "s3.accessKeyId must be a string"),
]

IDENTITY_SECRETS = [
    ("rdbms-host-userinfo", "rdbms", {"type": "mysql", "host": f"root:{CANARY}@db.example.com", "port": 3306,
                                      "database": "d"}, "mysql:db.example.com:3306/d"),
    ("mongodb-srv-userinfo", "mongodb", {"host": [f"mongodb+srv://app:{CANARY}@cluster0.example.net"],
                                         "database": "d"}, "mongodb:cluster0.example.net/d"),
    ("uri-port-out-of-range", "http", {"baseURI": f"https://app:{CANARY}@api.example.com:99999/v1"}, "uri:unreadable#"),
    ("uri-broken-ipv6", "http", {"baseURI": f"https://app:{CANARY}@[::1/v1"}, "uri:unreadable#"),
    ("uri-port-not-a-number", "http", {"baseURI": f"https://app:{CANARY}@api.example.com:abc/v1"}, "uri:unreadable#"),
    ("uri-matrix-parameters", "http", {"baseURI": f"https://api.example.com/app;jsessionid={CANARY}/v1"},
     "uri:https://api.example.com/app/v1"),
    ("uri-webhook-secret", "http", {"baseURI": f"https://hooks.example.com/services/T0/B0/{CANARY}kL2mZ8aR7tY4wE1"},
     "uri:https://hooks.example.com/services/…#"),  # the ids after `services` are masked too (issue 25)
    ("uri-bot-token", "rest", {"baseURI": f"https://api.telegram.org/bot1234567:{CANARY}kL2mZ8aR7tY4wE1xx/send"},
     "uri:https://api.telegram.org/…#"),
    ("uri-userinfo-query", "http", {"baseURI": f"https://u:{CANARY}@api.example.com/v1?key={CANARY}#{CANARY}"},
     "uri:https://api.example.com/v1"),
    ("ftp-host-userinfo", "ftp", {"hostURI": f"sftp://u:{CANARY}@ftp.example.com"}, "ftp:ftp.example.com:"),
    ("netsuite-account-userinfo", "netsuite", {"account": f"u:{CANARY}@1234"}, "netsuite:unreadable#"),
    # issue 25: secrets past the mask, one server spelt two ways, a sandbox spelt as NetSuite's URLs spell it
    ("uri-slash-in-password", "http", {"baseURI": f"https://user:12/{CANARY}@api.example.com/v1"},
     "uri:https://api.example.com/v1"),
    ("uri-zapier", "http", {"baseURI": f"https://hooks.zapier.com/hooks/catch/1234567/{CANARY}/"},
     "uri:https://hooks.zapier.com/hooks/catch/…#"),
    ("uri-ifttt", "http", {"baseURI": f"https://maker.ifttt.com/trigger/paid/with/key/{CANARY}"},
     "uri:https://maker.ifttt.com/trigger/paid/with/key/…#"),
    ("uri-discord", "http", {"baseURI": f"https://discord.com/api/webhooks/123456789012345678/{CANARY}"},
     "uri:https://discord.com/api/webhooks/…#"),
    ("uri-teams", "http", {"baseURI": f"https://acme.webhook.office.com/webhookb2/0a1b@0a1b/IncomingWebhook/{CANARY}"},
     "uri:https://acme.webhook.office.com/webhookb2/…#"),
    ("uri-google-chat", "http", {"baseURI": f"https://chat.googleapis.com/v1/spaces/AAAA{CANARY}/messages"},
     "uri:https://chat.googleapis.com/v1/spaces/…#"),
    ("uri-make", "http", {"baseURI": f"https://hook.eu1.make.com/{CANARY}abcdefghijklmnop"},
     "uri:https://hook.eu1.make.com/…#"),
    ("uri-key-value-segment", "http", {"baseURI": f"https://api.example.com/v1/apiKey={CANARY}/orders"},
     "uri:https://api.example.com/v1/…#"),
    ("uri-after-token", "http", {"baseURI": f"https://api.example.com/token/{CANARY}"},
     "uri:https://api.example.com/token/…#"),
    ("uri-handlebars-host-token", "http", {"baseURI": f"https://{{{{connection.settings.store}}}}.example.com/{CANARY}"},
     "uri:https://{{connection.settings.store}}.example.com/…#"),
    ("uri-handlebars-spaces", "http", {"baseURI": "https://{{" + " " * 5000}, "uri:unreadable#"),
    ("rdbms-database-odbc", "rdbms", {"type": "MySQL", "host": "db.example.com:3306", "port": 3306,
                                      "database": f"orders,user=sa,password={CANARY}"},
     "mysql:db.example.com:3306/unreadable#"),
    ("as2-partner-colon", "as2", {"partnerId": f"p:{CANARY}"}, "as2:unreadable#"),
    ("http-connector-id", "http", {"baseURI": "https://api.example.com/v1", "_httpConnectorId": f"c:{CANARY}"},
     "uri:https://api.example.com/v1"),
    ("uri-ipv6", "http", {"baseURI": "https://[2001:DB8::1]:8443/v1"}, "uri:https://[2001:db8::1]:8443/v1"),
    ("uri-idna-trailing-dot", "http", {"baseURI": "https://BÜCHER.example./%76%31/./x"},
     "uri:https://xn--bcher-kva.example/v1/x"),
    ("netsuite-sandbox-url-spelling", "netsuite", {"account": "1234567-sb1"}, "netsuite:sandboxes"),
    ("netsuite-release-preview-url-spelling", "netsuite", {"account": "1234567-rp"}, "netsuite:sandboxes"),
]


def identity_cases() -> list[Case]:
    cases = []
    for ctype, block, words in IDENTITY_WRONG:
        def change(files, ctype=ctype, block=block):
            files["connections"][1] = {"_id": "c-http", "name": "odd", "type": ctype, ctype: block}
        cases.append(Case(f"identity-{ctype}-{words.split()[0]}", "identity field of the wrong type", "issue",
                          (words, "keyed by itself"), files=_with(change),
                          check=_key_of("c-http", startswith="connection:c-http", resolved=False)))
    def assistant_with_user_info(files):
        files["connections"][1]["assistant"] = f"u:{CANARY}@shopify"
    cases.append(Case("secret-assistant-userinfo", "credentials in an identity field", "counted",
                      files=_with(assistant_with_user_info), extra_args=("--policy", "community"),
                      check=_key_of("c-http", startswith="app:unreadable#")))
    for label, ctype, block, key in IDENTITY_SECRETS:
        def change(files, ctype=ctype, block=block):
            files["connections"][1] = {"_id": "c-http", "name": "secretive", "type": ctype, ctype: block}
        cases.append(Case(f"secret-{label}", "credentials in an identity field", "counted", files=_with(change),
                          check=_key_of("c-http", startswith=key)))
    return cases


# --- licenses ----------------------------------------------------------------------------------

LICENSE_FIELDS = [
    ("numEndpoints", "ten", "numEndpoints must be a whole number, not a string", None),
    ("numEndpoints", -3, "numEndpoints is negative", None),
    ("numEndpoints", 2.5, "numEndpoints is not a whole number", None),
    ("numEndpoints", 1e300, "numEndpoints is too large", None),
    ("numEndpoints", True, "numEndpoints must be a whole number, not true or false", None),
    ("numFlows", [10], "numFlows must be a whole number, not an array", None),
    ("tier", "gold", "tier is not one of", None),
    ("expires", 1798675200000, "expires is a number; read as epoch milliseconds: 2026-12-31", None),
    ("expires", "soon", "expires is not a date", None),
    ("expires", {"date": "2027-01-01"}, "expires is not a date", None),
    ("endpoint", {"production": {"numEndpoints": 12}}, "numEndpoints (10) and endpoint.production.numEndpoints (12) "
                                                       "disagree", 10),
]


def license_cases() -> list[Case]:
    cases = []
    for fieldname, value, words, entitled in LICENSE_FIELDS:
        def change(files, fieldname=fieldname, value=value):
            files["licenses"][0][fieldname] = value
        check = None
        if entitled is not None:
            check = lambda r, e=entitled: _env(r)["endpoints"]["entitled"] == e or (_ for _ in ()).throw(
                AssertionError(_env(r)))
        cases.append(Case(f"license-{fieldname}-{type(value).__name__}-{str(value)[:8]}", "license field of the wrong kind",
                          "issue", (words,), files=_with(change), check=check))
    cases.append(Case("license-not-object", "bad license record", "issue", ("license is not a JSON object",),
                      files=_with(lambda f: f["licenses"].append("lic-2"))))
    cases.append(Case("license-no-type", "bad license record", "issue", ("license has no type",),
                      files=_with(lambda f: f["licenses"].append({"_id": "l2"}))))
    return cases


# --- what a terminal, a page or a spreadsheet would act on -------------------------------------

def display_cases() -> list[Case]:
    hostile_names = {
        "ansi-colour": f"{ESC}[31mRED{ESC}[0m", "osc-title": f"{ESC}]0;owned\x07", "clear-screen": f"{ESC}[2J{ESC}[H",
        "c1-csi": "\x9b2J", "bidi-override": "\u202egnp.exe", "carriage-return": "ok\rEVIL",
        "markup": "<script>alert(1)</script>", "formula": '=HYPERLINK("http://x","y")',
    }
    cases = []
    for label, name in hostile_names.items():
        def change(files, name=name):
            files["account.json"] = {"name": f"Acct {name}"}
            files["flows"][0]["name"] = name
            files["connections"][0]["name"] = name
        cases.append(Case(f"name-{label}", "names that would act on a terminal or a report", "counted",
                          files=_with(change), check=_counts(1, 2)))
    return cases


# --- healthy, empty and nearly empty accounts ---------------------------------------------------

def healthy_cases() -> list[Case]:
    def no_findings(results):
        assert [f for f in results["findings"] if f["status"] == "alarm"] == [], results["findings"]
    return [
        Case("healthy", "healthy account", "counted", check=_all(_counts(1, 2), no_findings)),
        Case("no-flows", "empty account", "counted", check=_counts(0, 0), files=_with(lambda f: f.update(flows=[]))),
        # the flow reaches two connections the snapshot lacks: each is an endpoint of its own (issue 25)
        Case("no-connections", "empty account", "counted", check=_counts(1, 2),
             files=_with(lambda f: f.update(connections=[]))),
        Case("nothing-but-account-json", "empty account", "counted", check=_counts(0, 0),
             files={"account.json": {"name": "Empty"}}),
        Case("only-licenses", "empty account", "counted", check=_counts(0, 0), files={"licenses": [LICENSE]}),
        Case("empty-arrays", "empty account", "counted", check=_counts(0, 0),
             files={k: [] for k in ("connections", "exports", "imports", "flows", "integrations", "licenses")}),
    ]


# --- seeded mutations: any field of a richer account replaced by a value of another kind -----------

MUTATION_VALUES = [None, True, False, 0, -1, 1.5, 10**20, "", "x", "=1+1", f"{ESC}[2J", [], {}, [1], {"a": 1},
                   ["x"], "2026-13-45", "yes", "u:pw@h.example.com:99999"]  # no canary: a name may be anything


def _rich() -> dict:
    files = base()
    files["connections"] += [
        {"_id": "c-ftp", "type": "ftp", "ftp": {"hostURI": "ftp.x.com", "port": 22, "type": "sftp", "tradingPartner": True}},
        {"_id": "c-db", "type": "rdbms", "rdbms": {"type": "mysql", "host": "db", "port": 3306, "database": "d"}},
        {"_id": "c-mg", "type": "mongodb", "mongodb": {"host": ["a", "b"], "database": "d"}},
        {"_id": "c-sf", "type": "salesforce", "salesforce": {"info": {"organization_id": "00D"}}},
        {"_id": "c-as2", "type": "as2", "as2": {"partnerId": "p", "partnerStationInfo": {"as2URI": "https://x:4080"}}},
    ]
    files["exports"] += [{"_id": f"e-{c}", "_connectionId": c} for c in ("c-ftp", "c-db", "c-mg", "c-sf", "c-as2")]
    files["flows"].append({"_id": "f3", "_integrationId": "int", "pageGenerators": [{"_exportId": "e-c-mg"}],
                           "routers": [{"branches": [{"pageProcessors": [{"_exportId": "e-c-ftp"},
                                                                         {"_exportId": "e-c-db"}]}]}]})
    files["integrations"] = [{"_id": "int", "_connectorId": "cx"}]
    files["licenses"][0]["endpoint"] = {"production": {"numEndpoints": 3}, "sandbox": {"numFlows": 1}}
    return files


def _paths(value, prefix=()):
    if prefix:
        yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _paths(child, prefix + (key,))


def mutation_cases(seed: int = 0, count: int = 40) -> list[Case]:
    """`count` accounts, each with one to four values replaced at random (seeded: the same cases
    every run). Their outcome is not known in advance; the invariants must hold all the same."""
    rng = random.Random(seed)
    cases = []
    for n in range(count):
        files = _rich()
        for _ in range(rng.randint(1, 4)):
            resource = rng.choice(["connections", "exports", "imports", "flows", "licenses", "integrations",
                                   "account.json"])
            path = rng.choice(list(_paths(files[resource])))
            target = files[resource]
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = copy.deepcopy(rng.choice(MUTATION_VALUES))
        cases.append(Case(f"mutation-{seed}-{n}", "seeded mutation", "survives", files=files))
    return cases


# --- issue 25: crashes, and input read as if it were sound ---------------------------------------

def _entitled(value: int) -> Callable[[dict], None]:
    def check(results):
        assert _env(results)["endpoints"]["entitled"] == value, _env(results)
    return check


def input_class_cases() -> list[Case]:
    """One case or more of each class of tests/hostile/test_input_classes.py that an audit reads."""
    cases = []
    for label, fieldname, value in [("year-0", "expires", "0000-01-01T00:00:00Z"),
                                    ("year-minus-1", "expires", "-0001-01-01T00:00:00Z"),
                                    ("year-9999", "expires", "9999-12-31T23:59:59Z"),
                                    ("trial-year-0", "trialEndDate", "0000-01-01T00:00:00Z")]:
        cases.append(Case(f"license-date-{label}", "license date outside the years", "issue",
                          (f"{fieldname} is outside the years 1990 to 2200",),
                          files=_with(lambda f, k=fieldname, v=value: f["licenses"][0].update({k: v}))))
    for label, value in [("number", 42), ("object", {}), ("list", ["standard"])]:
        cases.append(Case(f"license-tier-{label}", "license tier of another JSON type", "issue",
                          ("license tier must be one of",),
                          files=_with(lambda f, v=value: f["licenses"][0].update(type="integrator", tier=v))))
    for label, value in [("capital", "Endpoint"), ("trailing-space", "endpoint "), ("upper", "ENDPOINT")]:
        cases.append(Case(f"license-type-{label}", "license type in another case or with spaces", "issue",
                          ("license type is written in another case or with spaces",),
                          files=_with(lambda f, v=value: f["licenses"][0].update(type=v)),
                          check=_entitled(10)))  # the plan is read, not "no plan license"
    cases.append(Case("license-type-unknown", "license of an unknown type", "issue", ("license type is not one of",),
                      files=_with(lambda f: f["licenses"][0].update(type="enterprise-plan"))))
    for label, other in [("case", "HOSTILE"), ("trailing-space", "Hostile "), ("zero-width", "Hos\u200btile"),
                         ("full-width", "\uff28ostile"), ("decomposed", "Hostile\u0301")]:
        second = "Hostile\u0301" if label != "decomposed" else "Hostil\u00e9"
        files = {f"a/{k}": v for k, v in base().items()}
        files |= {f"b/{k}": v for k, v in base().items()}
        files["a/account.json"] = {"name": "Hostile" if label != "decomposed" else other}
        files["b/account.json"] = {"name": other if label != "decomposed" else second}
        cases.append(Case(f"account-names-look-alike-{label}", "account names that only look different", "error",
                          ("account name",), files=files))
    cases.append(Case("manifest-missing-page-no-bytes", "a manifest naming a page the folder lacks", "error",
                      ("manifest.json", "flows/page-00003.json", "missing"),
                      files=_with(lambda f: f.update({"manifest.json": {"files": [{"path": "flows/page-00003.json"}]}}))))
    for label, text in [("expires-number", "mutes:\n  - rule: '*'\n    reason: ok\n    expires: 86400\n"),
                        ("expires-time", "mutes:\n  - rule: '*'\n    reason: ok\n    expires: 2026-12-31 10:00:00\n"),
                        ("reason-blank", "mutes:\n  - rule: '*'\n    reason: '   '\n")]:
        cases.append(Case(f"mutes-{label}", "a mute whose expiry is no day, or whose reason is blank", "error",
                          ("mutes.yaml", "entry 1 (line 2)"), files=_with(lambda f, t=text: f.update({"mutes.yaml": t}))))
    return cases


def all_cases() -> list[Case]:
    cases = (unreadable_cases() + filesystem_cases() + record_cases() + identity_cases() + license_cases()
             + display_cases() + healthy_cases() + input_class_cases())
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
    for case in all_cases():
        args = case.build(out / case.name)
        print(f"{case.expect:8} {case.klass:45} auditor audit {' '.join(args)}")
