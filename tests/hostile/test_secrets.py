"""Credentials in hand-made exports never reach results, the terminal or an error message."""

from __future__ import annotations

import json

import pytest
from conftest import write_snapshot

CANARY = "CANARY7f3a"
CREDENTIAL_FIELDS = ("password", "token", "bearerToken", "refreshToken", "accessToken", "consumerSecret",
                     "tokenSecret", "secretAccessKey", "privateKey", "clientSecret", "apiKey", "passphrase",
                     "certificate", "encrypted", "secret")


def secrets(tag: str) -> dict:
    return {f: f"{CANARY}-{tag}-{f}" for f in CREDENTIAL_FIELDS}


def connections() -> list[dict]:
    out = []
    blocks = {
        "netsuite": {"account": "1", "environment": "production", "tokenId": CANARY},
        "salesforce": {"info": {"organization_id": "00D"}, "oauth2": secrets("sf")},
        "http": {"baseURI": f"https://user:{CANARY}@api.example.com/v1?api_key={CANARY}#{CANARY}",
                 "auth": {"type": "basic", "basic": secrets("basic"), "oauth": secrets("oauth"),
                          "token": {"token": CANARY, "headerName": "Authorization"}},
                 "headers": [{"name": "X-Api-Key", "value": CANARY}]},
        "rest": {"baseURI": f"https://{{{{settings.store}}}}.example.com/?token={CANARY}", "bearerToken": CANARY},
        "ftp": {"hostURI": "ftp.example.com", "username": "u", "tradingPartner": True, **secrets("ftp")},
        "as2": {"partnerId": "P", "partnerStationInfo": {"as2URI": "https://as2.example.com:4080/as2"}, **secrets("as2")},
        "rdbms": {"type": "postgresql", "host": "db", "port": 5432, "database": "d", **secrets("db")},
        "jdbc": {"type": "oracle", "host": "ora", "port": 1521, "database": "x", **secrets("jdbc")},
        "mongodb": {"host": ["m"], "database": "d", **secrets("mongo")},
        "s3": {"accessKeyId": f"AKIA{CANARY}0000", **secrets("s3")},
        "dynamodb": {"aws": {"accessKeyId": f"AKIA{CANARY}1111", **secrets("ddb")}},
        "wrapper": {"_stackId": "st", **secrets("wr")},
        "van": {"mailboxId": "mb", **secrets("van")},
        "mcp": {"serverURL": f"https://mcp.example.com/sse?key={CANARY}", **secrets("mcp")},
    }
    for i, (ctype, block) in enumerate(blocks.items()):
        out.append({"_id": f"c{i}", "name": f"{ctype} connection", "type": ctype, ctype: block})
    out.append({"_id": "cx", "name": "unknown", "type": "mystery", "mystery": secrets("mystery")})
    # credentials inside identity fields, where a key is made from them
    in_identity = [
        ("rdbms", {"type": "mysql", "host": f"root:{CANARY}@db.example.com", "port": 3306, "database": "d"}),
        ("rdbms", {"type": "mysql", "host": f"root:{CANARY}@db.example.com:99999", "database": "d"}),
        ("mongodb", {"host": [f"mongodb+srv://app:{CANARY}@cluster0.example.net"], "database": "d"}),
        ("mongodb", {"host": f"mongodb://app:{CANARY}@m1.example.net:27017,m2", "database": "d"}),
        ("http", {"baseURI": f"https://app:{CANARY}@api.example.com:99999/v1"}),
        ("http", {"baseURI": f"https://app:{CANARY}@[::1/v1"}),
        ("http", {"baseURI": f"https://app:{CANARY}@api.example.com:port/v1"}),
        ("http", {"baseURI": f"https://api.example.com/app;jsessionid={CANARY}/v1"}),
        ("http", {"baseURI": f"https://hooks.example.com/services/T000/B000/{CANARY}xQ9kL2mZ8aR7tY4wE1"}),
        ("rest", {"baseURI": f"https://api.telegram.org/bot123456789:{CANARY}HkjdfJkLmNpQrStUvWxYz12/sendMessage"}),
        ("netsuite", {"account": f"user:{CANARY}@1234567"}),
        ("as2", {"partnerId": f"p:{CANARY}@partner"}),
        ("ftp", {"hostURI": f"sftp://u:{CANARY}@ftp.example.com:2222"}),
        ("salesforce", {"baseURI": f"https://u:{CANARY}@na1.salesforce.com"}),
    ]
    for i, (ctype, block) in enumerate(in_identity):
        out.append({"_id": f"ci{i}", "name": f"{ctype} identity {i}", "type": ctype, ctype: block})
    return out


@pytest.fixture
def snapshot(tmp_path):
    conns = connections()
    exports = [{"_id": f"e-{c['_id']}", "_connectionId": c["_id"]} for c in conns]
    flows = [{"_id": f"f-{c['_id']}", "name": f"flow {c['_id']}", "pageGenerators": [{"_exportId": f"e-{c['_id']}"}]}
             for c in conns]
    # bad records holding canaries: a credential where a flag belongs, a record that is a bare secret
    flows.append({"_id": "f-bad", "disabled": CANARY})
    flows.append(CANARY)
    lic = [{"_id": "l", "type": "endpoint", "numEndpoints": 1, "expires": CANARY, "apiKey": CANARY}]
    return write_snapshot(tmp_path / "acct", connections=conns, exports=exports, flows=flows, licenses=lic)


def test_canaries_reach_no_output(snapshot, tmp_path, run_cli):
    import zipfile

    run = run_cli("audit", snapshot, "--as-of", "2026-11-30", "--fail-on", "never", "--html", tmp_path / "r.html",
                  "--xlsx", tmp_path / "r.xlsx", "--csv", tmp_path / "csv")
    assert run.exit_code == 0, run.stderr
    text = run.out.read_text()
    assert json.loads(text)["accounts"][0]["endpoints"]  # the audit did run over them
    reports = [(tmp_path / "r.html").read_text()]
    reports += [p.read_text() for p in (tmp_path / "csv").glob("*.csv")]
    with zipfile.ZipFile(tmp_path / "r.xlsx") as book:  # every part of the workbook, as text
        reports += [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
    for where in (text, run.stdout, run.stderr, *reports):
        assert CANARY not in where
    for command in ("endpoints", "flows"):
        for fmt in ("table", "csv", "json"):
            out = run_cli(command, snapshot, "--format", fmt)
            assert out.exit_code == 0, out.stderr
            assert CANARY not in out.stdout + out.stderr, (command, fmt)


def test_canaries_near_a_parse_error_stay_out_of_the_message(snapshot, run_cli, read_path):
    (snapshot / "flows.json").write_text(f'[{{"_id": "a", "token": "{CANARY}", "x": {CANARY}}}]')
    run = run_cli("audit", snapshot)
    assert run.exit_code == 2 and CANARY not in run.stderr + run.stdout
    (snapshot / "flows.json").write_text(f'{{"password": "{CANARY}"}}')
    run = run_cli("audit", snapshot)
    assert run.exit_code == 2 and CANARY not in run.stderr + run.stdout


def test_internal_errors_do_not_echo_their_message(snapshot, run_cli, monkeypatch):
    import auditor.runs.account

    def boom(*_):
        raise RuntimeError(f"something broke near {CANARY}")

    monkeypatch.setattr(auditor.runs.account, "run", boom)
    run = run_cli("audit", snapshot)
    assert run.exit_code == 3 and "internal error (RuntimeError)" in run.stderr and CANARY not in run.stderr


def test_a_dash_alone_is_no_formula():
    """The reconciliation totals write '-' for no currency: it is no formula, so no quote prefix,
    while anything a spreadsheet would compute still gets one."""
    import pandas as pd

    from auditor.common.safe import neutral, neutralise
    assert neutralise(pd.Series(["-", "--", "-1+2", "=A1", "@SUM(A1)", "+x"], dtype=object)).tolist() == [
        "-", "--", "'-1+2", "'=A1", "'@SUM(A1)", "'+x"]
    assert (neutral("-"), neutral("-cmd")) == ("-", "'-cmd")
