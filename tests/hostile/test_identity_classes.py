"""Endpoint identity, class by class (issue 25): every pattern that reads input is linear; no
secret reaches a key (user info with a `/`, webhook tokens in paths, identity fields holding what
they cannot); one server spelt two ways is one endpoint and two servers stay two; a NetSuite
sandbox spelt as NetSuite's URLs spell it is a sandbox; integrator.io's own hosts are not
endpoints; a connection the snapshot lacks is still an endpoint of the flow that reaches it.
Each class has its own corpus."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest
import yaml
from conftest import ROOT, account, flow

from auditor.common import paths, terminal
from auditor.common.conditions import evaluate
from auditor.count import endpoints as ep
from auditor.count.endpoints import (
    ID_SHAPES,
    clean_field,
    clean_host,
    normal_host,
    normal_netsuite_account,
    normalise_uri,
)
from auditor.load import snapshot as snapshot_module

# --- a hang: every pattern on the input path is linear ------------------------------------------

N = 5000
ADVERSARIAL = {
    "handlebars-spaces": "https://{{" + " " * N,
    "handlebars-open": "{{" * (N // 2),
    "handlebars-triple": "{{{" + "a" * N,
    "handlebars-unclosed-many": "https://h/" + "{{a " * (N // 4),
    "colons": "a:" * (N // 2),
    "percents": "%" * N,
    "half-escapes": "%4" * (N // 2),
    "escapes": "https://h/" + "%41" * (N // 3),
    "dotted-host": "https://" + "a." * (N // 2) + "com",
    "dots": "." * N,
    "digits-then-letter": "1" * N + "x",
    "letters-then-bang": "a" * N + "!",
    "camel-then-digit": "aB" * (N // 2) + "1",
    "slashes": "https://h/" + "/" * N,
    "dot-segments": "https://h/" + "./" * (N // 2),
    "parent-segments": "https://h/" + "../" * (N // 3),
    "mixed-segment": "https://h/" + "a1" * (N // 2),
    "slashed-userinfo": "https://u:" + "1/" * (N // 2) + "@h",
    "ats": "https://" + "@" * N,
    "sandbox-digits": "1234567_SB" + "1" * N + "x",
    "netsuite-host": "1234567-sb1." + "app." * (N // 4) + "netsuite.com",
    "ideographic-spaces": "\u3000" * N,
    "full-width": "\uff45" * N,
    "punycode": "xn--" * (N // 4),
    "ipv6-colons": "https://[" + ":" * N + "]",
    "base64ish": "https://h/" + "QUJD" * (N // 4),
    "integrator-suffix": "integrator." * (N // 11) + "io.x",
}
READERS = {
    "normalise_uri": normalise_uri,
    "clean_host": clean_host,
    "normal_host": normal_host,
    "netsuite": normal_netsuite_account,
    "fields": lambda v: [clean_field(column, v) for column in ID_SHAPES],
    "fill": lambda v: ep._fill_handlebars(v, '{"settings": {"a": "x"}}'),
    "path": lambda v: ep._clean_path("/" + v),
    "page-gap": lambda v: snapshot_module._page_gap("x", [v + ".json", "page-1.json"]),
    "natural-key": snapshot_module._natural_key,
    "terminal": terminal.printable,
}


@pytest.mark.parametrize("text", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_every_identity_reader_is_linear(text):
    for name, read in READERS.items():
        start = time.perf_counter()
        try:
            read(text)
        except Exception as exc:  # noqa: BLE001 - only time and crashes matter here
            if not isinstance(exc, (ValueError, snapshot_module.InputError)):
                raise
        assert time.perf_counter() - start < 2, name


def _module_patterns() -> dict[str, re.Pattern]:
    """Every compiled pattern at module level in the input path, and the policies' patterns."""
    found = {}
    for module in (ep, snapshot_module, terminal, paths):
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found[f"{module.__name__}.{name}"] = value
    found["netsuite.SANDBOX_SUFFIX"] = re.compile(ep.SANDBOX_SUFFIX)
    for policy in sorted((ROOT / "rules" / "policies").glob("*.yaml")):
        data = yaml.safe_load(policy.read_text())
        for i, rule in enumerate(data.get("not_endpoints", []) + data.get("endpoints", [])):
            for column, cond in (rule.get("when") or {}).items():
                if isinstance(cond, dict) and "regex" in cond:
                    found[f"{policy.stem}.{i}.{column}"] = re.compile(cond["regex"])
    return found


PATTERNS = _module_patterns()


def test_the_patterns_under_test_are_the_ones_that_read_input():
    assert {"auditor.count.endpoints._HANDLEBARS", "auditor.count.endpoints._HOST", "auditor.count.endpoints._WORD",
            "auditor.count.endpoints._VERSION", "default.1.uri_host"} <= set(PATTERNS)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_every_pattern_is_linear_on_adversarial_strings(name):
    pattern = PATTERNS[name]
    for text in ADVERSARIAL.values():
        start = time.perf_counter()
        pattern.search(text)
        pattern.fullmatch(text)
        pattern.sub("", text)
        assert time.perf_counter() - start < 2, (name, text[:20])


def test_policy_regexes_over_a_column_are_linear():
    frame = pd.DataFrame({"uri_host": list(ADVERSARIAL.values())})
    start = time.perf_counter()
    evaluate({"uri_host": {"regex": r"(?:^|\.)integrator\.io$"}}, frame)
    assert time.perf_counter() - start < 2


# --- secrets past the mask ------------------------------------------------------------------------

TOKEN = "Zq7TOKENw3"  # made up; a real token's shape around it
WEBHOOKS = [
    f"https://hooks.zapier.com/hooks/catch/1234567/{TOKEN}/",
    "https://hooks.zapier.com/hooks/catch/1234567/abcdefg/",  # a token that looks like a word
    f"https://maker.ifttt.com/trigger/order_paid/with/key/{TOKEN}",
    "https://maker.ifttt.com/trigger/order_paid/with/key/abcdefghijklmnop",
    f"https://hooks.slack.com/services/T0123ABCD/B0456EFGH/{TOKEN}abcdefghij",
    "https://hooks.slack.com/services/TEAMWORD/BOTWORD/justletterstoken",
    f"https://discord.com/api/webhooks/123456789012345678/{TOKEN}-abc_DEF",
    f"https://discordapp.com/api/webhooks/123456789012345678/{TOKEN}",
    f"https://acme.webhook.office.com/webhookb2/0a1b2c3d-1111-2222-3333-444455556666@0a1b2c3d-1111-2222-3333-"
    f"444455556666/IncomingWebhook/{TOKEN}0123/0a1b2c3d-1111-2222-3333-444455556666",
    f"https://outlook.office.com/webhook/{TOKEN}/IncomingWebhook/abc/def",
    f"https://chat.googleapis.com/v1/spaces/AAAA{TOKEN}/messages?key={TOKEN}&token={TOKEN}",
    f"https://hook.eu1.make.com/{TOKEN}abcdefghijklmnopqrstu",
    f"https://hook.us1.make.com/{TOKEN.lower()}",
    f"https://api.telegram.org/bot123456789:{TOKEN}AAHk3jd8/sendMessage",
    f"https://api.telegram.org/bot/{TOKEN}/sendMessage",
    f"https://api.example.com/v1/apikey/{TOKEN}/orders",
    f"https://api.example.com/v1/api_key/{TOKEN}",
    f"https://api.example.com/token/{TOKEN}",
    f"https://api.example.com/hooks/{TOKEN}",
    f"https://api.example.com/webhooks/incoming/{TOKEN}",
    f"https://api.example.com/secret/{TOKEN}",
    f"https://api.example.com/sig/{TOKEN}",
    f"https://api.example.com/v1/key={TOKEN}/orders",
    f"https://api.example.com/v1/auth/apiKey={TOKEN}",
    "https://api.example.com/v1/dXNlcjpaUTdUT0tFTnczMg==/orders",  # base64 user:secret
    "https://api.example.com/v1/dXNlcjpaUTdUT0tFTnczMg/orders",  # without padding
    f"https://{{{{connection.settings.store}}}}.example.com/{TOKEN}",
    f"https://{{{{{{connection.http.unencrypted.host}}}}}}/api/{TOKEN}",
    f"https://api.example.com/app;jsessionid={TOKEN}/v1",
    f"https://api.example.com/%5A%71%37{TOKEN[3:]}",  # percent-encoded token
    f"https://api.example.com/{TOKEN[:5]}%2F{TOKEN[5:]}",
    f"https://user:{TOKEN}@api.example.com/v1",
    f"https://user:12/{TOKEN}@api.example.com/v1",  # a `/` in the password
    f"https://user:{TOKEN}/x@api.example.com/v1",
    f"https://user:1/2/{TOKEN}@api.example.com:8443/v1?x=1",
    f"https://app:{TOKEN}@[2001:db8::1]:8443/v1",
]
NEEDLES = (TOKEN, TOKEN.lower(), "abcdefg", "abcdefghijklmnop", "justletterstoken", "TEAMWORD", "dXNlcjpa",
           "Zq7", "user")


@pytest.mark.parametrize("uri", WEBHOOKS)
def test_no_token_reaches_a_key(uri):
    key, host, _ = normalise_uri(uri)
    assert not any(n in key for n in NEEDLES), key
    assert not any(n in (host or "") for n in NEEDLES), host
    assert normalise_uri(uri)[0] == key  # the same URI keys as one endpoint


@pytest.mark.parametrize("uri,host,shown", [
    ("https://user:12/pw@host.example.com/v1", "host.example.com", "https://host.example.com/v1"),
    ("https://user:pw/x/y@api.example.com:8443/v2?q=1", "api.example.com", "https://api.example.com:8443/v2"),
    ("https://u:p@ss@api.example.com/v1", "api.example.com", "https://api.example.com/v1"),
    # a user name with a dot and a password starting with digits looked like a host and port
    ("https://svc.user:2024/SECRET@api.example.com/v1", "api.example.com", "https://api.example.com/v1"),
    ("https://svc.user:99/SECRET@api.example.com", "api.example.com", "https://api.example.com"),
])
def test_userinfo_with_a_slash_never_becomes_the_host(uri, host, shown):
    key, got_host, readable = normalise_uri(uri)
    assert readable and got_host == host and (key == shown or key.startswith(shown + "/"))
    assert "SECRET" not in key and "svc" not in key and "2024" not in key


@pytest.mark.parametrize("uri", [
    # a host with a port and an address in its path, or user info whose password holds two `/`:
    # the two cannot be told apart, so neither is read (never a name or a password in a key)
    "https://api.example.com:8443/users/bob@example.com",
    "https://svc.user:2024/a/SECRET@api.example.com/v1",
])
def test_userinfo_or_a_path_with_an_address_is_keyed_unreadable(uri):
    key, host, readable = normalise_uri(uri)
    assert not readable and host is None and key.startswith("unreadable#")
    assert not any(word in key for word in ("bob", "SECRET", "svc", "users"))


@pytest.mark.parametrize("hosts", ["mongodb://admin:2024,SECRET@h1.example.com", "admin:x,SECRET@h1.example.com:27017"])
def test_a_comma_in_a_mongodb_password_is_no_host(hosts):
    from auditor.count.endpoints import _mongo_hosts
    assert _mongo_hosts(hosts) == "h1.example.com"


@pytest.mark.parametrize("uri", [
    "https://host.example.com/api_token/hunter22", "https://host.example.com/v1/apitoken/abc12",
    "https://host.example.com/access-token/abcdef", "https://host.example.com/accessKey/abcdef",
    "https://host.example.com/client_secret/abcdef", "https://host.example.com/auth/abcdef",
    "https://host.example.com/pass/abcdef", "https://host.example.com/pwd/abcdef",
    "https://host.example.com/sessionid/abcdef", "https://host.example.com/Bearer/abcdef",
    "https://hooks.zapier.com/hooks/catch/123/abcdefg",
])
def test_a_word_after_one_that_names_a_secret_is_masked_whatever_it_looks_like(uri):
    key = normalise_uri(uri)[0]
    secret = uri.rsplit("/", 1)[1]
    assert secret not in key.split("/"), key


@pytest.mark.parametrize("path", ["/v1/orders", "/api/2024-01/graphql.json", "/services/data/v58.0/sobjects/Account",
                                  "/rest/V1/customerOrdersExport", "/rest/api/2/issue", "/app/site/hosting/restlet.nl",
                                  "/api/v2.1/order-items", "/oauth2/v1beta1", "/2024-01-31/REST",
                                  "/{{connection.settings.tenant}}/api"])
def test_plain_words_versions_and_dates_are_shown(path):
    assert normalise_uri("https://api.example.com" + path)[0] == "https://api.example.com" + path


@pytest.mark.parametrize("a,b", [
    ("https://hooks.zapier.com/hooks/catch/1/abc123/", "https://hooks.zapier.com/hooks/catch/1/abc124/"),
    ("https://api.example.com/v1/key=a", "https://api.example.com/v1/key=b"),
    ("https://api.example.com/T1x/B2", "https://api.example.com/T1/xB2"),  # same text, other segments
])
def test_two_secrets_are_two_endpoints(a, b):
    assert normalise_uri(a)[0] != normalise_uri(b)[0]


FIELD_SECRETS = [
    ("db_database", "orders,user=sa,password=Zq7TOKENw3"),
    ("db_database", "orders;Password=Zq7TOKENw3"),
    ("db_database", "orders/Zq7TOKENw3"),
    ("db_database", "u:Zq7TOKENw3@orders"),
    ("as2_partner", "partner:Zq7TOKENw3"),
    ("as2_partner", "p=Zq7TOKENw3"),
    ("as2_partner", "a,b,Zq7TOKENw3"),
    ("http_connector", "Zq7TOKENw3"),
    ("http_connector", "5f1c0aa1b2c3d4e5f6a7b80:Zq7TOKENw3"),
    ("netsuite_account", "1234567:Zq7TOKENw3"),
    ("netsuite_account", "user=Zq7TOKENw3"),
    ("salesforce_org", "00D:Zq7TOKENw3"),
    ("db_project", "proj/Zq7TOKENw3"),
    ("db_project", "a:b:Zq7TOKENw3"),
    ("db_cluster", "c1:Zq7TOKENw3"),
    ("db_region", "us-east-1/Zq7TOKENw3"),
    ("mongo_database", "d:Zq7TOKENw3"),
    ("stack_id", "st:Zq7TOKENw3"),
    ("agent_id", "a=Zq7TOKENw3"),
    ("van_mailbox", "mb/Zq7TOKENw3"),
    ("assistant", "shopify:Zq7TOKENw3"),
    ("type", "http:Zq7TOKENw3"),
    ("db_type", "mysql;pwd=Zq7TOKENw3"),
    ("db_database", "a" * 129),
    ("db_database", "orders\x1b[2J"),
    ("db_database", "orders\u202e"),
]


@pytest.mark.parametrize("column,raw", FIELD_SECRETS)
def test_a_field_holding_what_it_cannot_is_a_fingerprint(column, raw):
    shown = clean_field(column, normal_netsuite_account(raw) if column == "netsuite_account" else raw)
    assert shown.startswith("unreadable#") and TOKEN not in shown
    assert clean_field(column, raw) == clean_field(column, raw)


@pytest.mark.parametrize("column,raw", [
    ("db_database", "orders"), ("db_database", "Orders_2024"), ("db_database", "my-db.v2"), ("db_database", "bücher"),
    ("as2_partner", "ACME-AS2"), ("as2_partner", "ACME AS2"), ("as2_partner", "edi@acme.example"),
    ("http_connector", "5f1c0aa1b2c3d4e5f6a7b801"), ("netsuite_account", "TSTDRV1234567_SB1"),
    ("salesforce_org", "00D5g000004UMBRXYZ"), ("db_project", "my-project-123456"),
    ("db_project", "example.com:my-project"), ("db_cluster", "warehouse-1"), ("db_region", "us-east-1"),
    ("mongo_database", "shop_db"), ("stack_id", "5f1c0aa1b2c3d4e5f6a7b801"), ("van_mailbox", "MB 42"),
])
def test_a_field_that_reads_as_one_is_shown(column, raw):
    assert clean_field(column, raw) == raw


def keys(tmp_path, run_cli, conns, *args):
    """Audit one enabled flow per connection: {connection id: (endpoint key, resolved)}, the run."""
    snap = account(tmp_path, conns, [flow(f"f-{c['_id']}", exports=[f"e-{c['_id']}"]) for c in conns])
    run = run_cli("audit", snap, "--fail-on", "never", *args)
    assert run.exit_code == 0, run.stderr
    out = {}
    for e in run.results["accounts"][0]["endpoints"]:
        for c in e["connections"]:
            out[c] = (e["key"], e["resolved"], e["explain"])
    return out, run


def test_fields_that_cannot_hold_a_value_key_by_fingerprint_unresolved_in_every_output(tmp_path, run_cli):
    conns = [
        {"_id": "db", "type": "rdbms", "rdbms": {"type": "mssql", "host": "db.example.com",
                                                "database": f"orders,user=sa,password={TOKEN}"}},
        {"_id": "db2", "type": "rdbms", "rdbms": {"type": "mssql", "host": "db.example.com",
                                                 "database": f"orders,user=sa,password={TOKEN}"}},
        {"_id": "as2", "type": "as2", "as2": {"partnerId": f"partner:{TOKEN}"}},
        {"_id": "ok", "type": "rdbms", "rdbms": {"type": "mssql", "host": "db.example.com", "database": "orders"}},
    ]
    got, run = keys(tmp_path, run_cli, conns)
    assert TOKEN not in run.out.read_text() and TOKEN not in run.stdout
    assert got["db"][0] == got["db2"][0] and got["db"][0].startswith("mssql:db.example.com:1433/unreadable#")
    assert got["db"][1] is False and "database does not read as one" in got["db"][2]
    assert got["as2"][0].startswith("as2:unreadable#") and got["as2"][1] is False
    assert got["ok"] == ("mssql:db.example.com:1433/orders", True, got["ok"][2])


# --- one server counted twice ---------------------------------------------------------------------

SAME_URI = [
    ("https://api.shop.example.com/v1", "https://api.shop.example.com./v1"),
    ("https://bücher.example/v1", "https://xn--bcher-kva.example/v1"),
    ("https://BÜCHER.example/v1", "https://bücher.example/v1"),
    ("https://example.com/v1", "https://ｅｘａｍｐｌｅ．ｃｏｍ/v1"),  # full-width letters and dot
    ("https://example.com/v1", "https://example\u3002com/v1"),  # ideographic full stop
    ("https://API.Example.COM/v1", "https://api.example.com/v1"),
    ("HTTPS://api.example.com/v1", "https://api.example.com/v1"),
    ("https://api.example.com:443/v1", "https://api.example.com/v1"),
    ("http://api.example.com:80/v1", "http://api.example.com/v1"),
    ("https://api.example.com/%76%31", "https://api.example.com/v1"),
    ("https://api.example.com/./v1", "https://api.example.com/v1"),
    ("https://api.example.com/x/../v1", "https://api.example.com/v1"),
    ("https://api.example.com/v1/", "https://api.example.com/v1"),
    ("https://api.example.com/a%2fb", "https://api.example.com/a%2Fb"),
    ("https://api.example.com/%7Euser", "https://api.example.com/~user"),
    ("https://[2001:DB8::1]/v1", "https://[2001:db8:0:0:0:0:0:1]:443/v1"),
    ("https://user:pw@api.example.com/v1", "https://api.example.com/v1"),
]
TWO_URIS = [
    ("https://api.shop.example.com/v1", "https://api.shop.example.com/v2"),
    ("https://bücher.example/v1", "https://bucher.example/v1"),
    ("https://api.example.com:8443/v1", "https://api.example.com/v1"),
    ("https://api.example.com/v1", "http://api.example.com/v1"),
    ("https://api.example.com/V1/Orders", "https://api.example.com/V1/orders"),  # paths keep their case
    ("https://api.example.com/a%2Fb", "https://api.example.com/a/b"),  # an encoded slash is not a slash
    ("https://[2001:db8::1]/v1", "https://[2001:db8::2]/v1"),
]


@pytest.mark.parametrize("a,b", SAME_URI)
def test_one_server_spelt_two_ways_keys_as_one(a, b):
    assert normalise_uri(a)[0] == normalise_uri(b)[0] and normalise_uri(a)[2]


@pytest.mark.parametrize("a,b", TWO_URIS)
def test_two_servers_stay_two(a, b):
    assert normalise_uri(a)[0] != normalise_uri(b)[0]


@pytest.mark.parametrize("uri,key", [
    ("https://[::1]/v1", "https://[::1]/v1"),
    ("https://[2001:db8::1]:8443/v1", "https://[2001:db8::1]:8443/v1"),
    ("http://[fe80::1:2]/", "http://[fe80::1:2]"),
    ("https://[::ffff:192.0.2.1]/x", "https://[::ffff:c000:201]/x"),
])
def test_well_formed_ipv6_uris_key_by_host(uri, key):
    assert normalise_uri(uri)[:1] == (key,) and normalise_uri(uri)[2]


@pytest.mark.parametrize("uri", ["https://[::1/v1", "https://[zz::1]/v1", "https://[1:2:3:4:5:6:7:8:9]/v1",
                                 "https://[fe80::1%25eth0]/v1"])
def test_broken_ipv6_uris_stay_unreadable(uri):
    assert normalise_uri(uri)[0].startswith("unreadable#")


def test_database_and_ftp_spellings_key_as_one(tmp_path, run_cli):
    conns = [
        {"_id": "my1", "type": "rdbms", "rdbms": {"type": "mysql", "host": "db.example.com", "port": 3306, "database": "d"}},
        {"_id": "my2", "type": "rdbms", "rdbms": {"type": "MySQL", "host": "db.example.com:3306", "port": 3306,
                                                 "database": "d"}},
        {"_id": "my3", "type": "rdbms", "rdbms": {"type": "mysql", "host": "DB.Example.com.:3306", "database": "d"}},
        {"_id": "my4", "type": "rdbms", "rdbms": {"type": " mysql ", "host": "db.example.com", "database": "d"}},
        {"_id": "other-port", "type": "rdbms", "rdbms": {"type": "mysql", "host": "db.example.com:3307", "port": 3306,
                                                        "database": "d"}},
        {"_id": "pg1", "type": "rdbms", "rdbms": {"type": "postgres", "host": "pg.example.com", "database": "d"}},
        {"_id": "pg2", "type": "rdbms", "rdbms": {"type": "PostgreSQL", "host": "pg.example.com:5432", "database": "d"}},
        {"_id": "mg1", "type": "mongodb", "mongodb": {"host": ["m.example.com", "n.example.com."], "database": "d"}},
        {"_id": "mg2", "type": "mongodb", "mongodb": {"host": "n.example.com:27017,M.example.com", "database": "d"}},
        {"_id": "ftp1", "type": "ftp", "ftp": {"hostURI": "ftp.bücher.example."}},
        {"_id": "ftp2", "type": "ftp", "ftp": {"hostURI": "ftp://FTP.xn--bcher-kva.example:21"}},
        {"_id": "bq1", "type": "rdbms", "rdbms": {"type": "BigQuery", "bigquery": {"projectId": "proj-1"}}},
        {"_id": "bq2", "type": "rdbms", "rdbms": {"type": "bigquery", "projectId": "proj-1"}},
    ]
    got, _ = keys(tmp_path, run_cli, conns)
    key = {c: k for c, (k, _, _) in got.items()}
    assert key["my1"] == key["my2"] == key["my3"] == key["my4"] == "mysql:db.example.com:3306/d"
    assert key["other-port"] != key["my1"]
    assert key["pg1"] == key["pg2"] == "postgresql:pg.example.com:5432/d"
    assert key["mg1"] == key["mg2"] == "mongodb:m.example.com,n.example.com/d"
    assert key["ftp1"] == key["ftp2"] == "ftp:ftp.xn--bcher-kva.example:21"
    assert key["bq1"] == key["bq2"] == "bigquery:proj-1"


# --- a sandbox counted as production --------------------------------------------------------------

SANDBOXES = ["1234567_SB1", "1234567-sb1", "1234567-SB1", "1234567_sb2", " 1234567-sb12 ", "1234567_RP", "1234567-rp",
             "1234567-RP", "TSTDRV1234567_SB1", "tstdrv1234567-sb1", "1234567 SB1", "1234567_SB",
             "1234567-sb1.app.netsuite.com", "https://1234567-sb1.suitetalk.api.netsuite.com/services",
             "1234567-rp.restlets.api.netsuite.com"]
PRODUCTION = ["1234567", "tstdrv1234567", "TSTDRV1234567", "1234567-SBX", "SB1", "1234567_SB1X", "1234567.app.netsuite.com"]


@pytest.mark.parametrize("raw", SANDBOXES)
def test_every_sandbox_and_release_preview_spelling_is_a_sandbox(raw):
    assert re.search(ep.SANDBOX_SUFFIX, normal_netsuite_account(raw))


@pytest.mark.parametrize("raw", PRODUCTION)
def test_production_spellings_are_not(raw):
    assert not re.search(ep.SANDBOX_SUFFIX, normal_netsuite_account(raw))


def test_netsuite_spellings_key_as_the_seed_documents_say(tmp_path, run_cli):
    conns = [{"_id": f"sb{i}", "type": "netsuite", "netsuite": {"account": raw}} for i, raw in enumerate(SANDBOXES)]
    conns += [{"_id": "p1", "type": "netsuite", "netsuite": {"account": "1234567"}},
              {"_id": "p2", "type": "netsuite", "netsuite": {"account": " 1234567 "}},
              {"_id": "p3", "type": "netsuite", "netsuite": {"account": "1234567.app.netsuite.com"}},
              {"_id": "t1", "type": "netsuite", "netsuite": {"account": "tstdrv1234567"}},
              {"_id": "t2", "type": "netsuite", "netsuite": {"account": "TSTDRV1234567"}}]
    got, run = keys(tmp_path, run_cli, conns)
    assert {got[f"sb{i}"][0] for i in range(len(SANDBOXES))} == {"netsuite:sandboxes"}
    assert got["p1"][0] == got["p2"][0] == got["p3"][0] == "netsuite:1234567"
    assert got["t1"][0] == got["t2"][0] == "netsuite:TSTDRV1234567"
    assert run.results["accounts"][0]["environments"][0]["endpoints"]["used"] == 3


# --- integrator.io's own hosts ---------------------------------------------------------------------

@pytest.mark.parametrize("uri", ["https://api.integrator.io/v1", "https://api.eu.integrator.io/v1",
                                 "https://api.staging.integrator.io", "https://integrator.io/api",
                                 "https://eu.integrator.io/v1/exports", "https://API.Integrator.IO./v1",
                                 "https://connectors.integrator.io/x", "https://api.integrator.io:443/v1",
                                 "https://ａｐｉ．ｉｎｔｅｇｒａｔｏｒ．ｉｏ/v1"])
def test_any_integrator_io_host_is_the_api_not_an_endpoint(tmp_path, run_cli, uri):
    conns = [{"_id": "c1", "type": "http", "http": {"baseURI": uri}},
             {"_id": "c2", "type": "http", "http": {"baseURI": "https://api.integrator.io.example.com/v1"}},
             {"_id": "c3", "type": "http", "http": {"baseURI": "https://myintegrator.io/v1"}}]
    for policy in ("default", "community"):
        got, run = keys(tmp_path / policy, run_cli, conns, "--policy", policy)
        assert set(got) == {"c2", "c3"}, (policy, got)
        role = {c["id"]: c["role"] for c in run.results["accounts"][0]["connections"]}
        assert role["c1"] == "not-endpoint"


# --- a connection the snapshot lacks ---------------------------------------------------------------

def test_a_connection_a_counted_flow_reaches_that_the_snapshot_lacks_is_its_own_endpoint(tmp_path, run_cli):
    from downloads import write_download

    folder = write_download(
        tmp_path / "dl", {"_id": "6a000000000000000000a009", "name": "Customer"},
        exports=[{"_id": "e1", "name": "Get", "_connectionId": "5f1c0aa1b2c3d4e5f6a7b8aa", "adaptorType": "HTTPExport"}],
        imports=[{"_id": f"i{n}", "name": f"Put {n}", "_connectionId": "5f1c0aa1b2c3d4e5f6a7b8bb" if n % 2 else
                  "5f1c0aa1b2c3d4e5f6a7b8aa", "adaptorType": "HTTPImport"} for n in range(21)],
        flows=[{"_id": "f1", "name": "Twenty-two steps", "pageGenerators": [{"_exportId": "e1"}],
                "pageProcessors": [{"type": "import", "_importId": f"i{n}"} for n in range(21)]}],
    )
    run = run_cli("audit", folder, "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    acct = run.results["accounts"][0]
    eps = {e["key"]: e for e in acct["endpoints"]}
    assert set(eps) == {"connection:5f1c0aa1b2c3d4e5f6a7b8aa", "connection:5f1c0aa1b2c3d4e5f6a7b8bb"}
    for e in eps.values():
        assert e["resolved"] is False and e["flows"] == ["f1"] and "does not hold" in e["explain"]
    assert acct["environments"][0]["endpoints"]["used"] == 2
    missing = {r["missing_id"] for r in acct.get("references", [])} if acct.get("references") else set()
    assert missing <= {"5f1c0aa1b2c3d4e5f6a7b8aa", "5f1c0aa1b2c3d4e5f6a7b8bb"}


def test_a_missing_connection_with_an_id_that_is_not_one_is_keyed_by_fingerprint(tmp_path, run_cli):
    snap = account(tmp_path, [], [flow("f1", exports=["e1"])], extra_exports=[{"_id": "e1", "_connectionId": f"x:{TOKEN}"}])
    run = run_cli("audit", snap, "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    keys_ = [e["key"] for e in run.results["accounts"][0]["endpoints"]]
    assert len(keys_) == 1 and keys_[0].startswith("connection:unreadable#") and TOKEN not in keys_[0]


def test_a_missing_connection_reached_only_by_a_disabled_flow_is_not_counted(tmp_path, run_cli):
    snap = account(tmp_path, [], [flow("f1", exports=["e1"], disabled=True)],
                   extra_exports=[{"_id": "e1", "_connectionId": "5f1c0aa1b2c3d4e5f6a7b8aa"}])
    assert run_cli("audit", snap, "--fail-on", "never").results["accounts"][0]["endpoints"] == []


@pytest.mark.parametrize("uri,key", [
    ("https://{{ connection.settings.host }}.example.com/api", "https://{{ connection.settings.host }}.example.com/api"),
    ("https://{{{connection.settings.host}}}:8443/v1", "https://{{{connection.settings.host}}}:8443/v1"),
])
def test_a_templated_host_is_kept_as_written_with_the_spaces_of_its_handlebars(uri, key):
    assert normalise_uri(uri)[0] == key


@pytest.mark.parametrize("uri", ["https://{{" + " " * 50, "https://{{a}} b.example.com/v1", "https://{{a}}.example.com:x/v1",
                                 "https://api.example.com/a b"])
def test_a_templated_host_that_would_not_read_as_a_host_is_unreadable(uri):
    assert normalise_uri(uri)[0].startswith("unreadable#")


@pytest.mark.parametrize("short, long", [("00D5g000004ABCD", "00D5g000004ABCDEA4"), ("001A0000006Vm9r", "001A0000006Vm9rIAC")])
def test_a_salesforce_org_in_its_15_and_18_character_forms_is_one(short, long):
    from auditor.count.endpoints import salesforce_org
    assert salesforce_org(long) == salesforce_org(short) == short
    assert salesforce_org(long[:15] + "ZZZ") == long[:15] + "ZZZ"  # not a checksum: kept, a different id


@pytest.mark.parametrize("column, raw", [("db_database", "orders password SECRET"), ("as2_partner", "Partner pwd SECRET"),
                                         ("db_database", "orders token=x"), ("as2_partner", "ACME secret SECRET")])
def test_a_field_that_allows_spaces_naming_a_secret_is_masked(column, raw):
    from auditor.count.endpoints import clean_field
    shown = clean_field(column, raw)
    assert shown.startswith("unreadable#") and "SECRET" not in shown


@pytest.mark.parametrize("raw, shown", [("1234567 SECRET", None), ("1234567", "1234567"), ("1234567_sb1", "1234567_SB1"),
                                        ("TSTDRV1234567", "TSTDRV1234567"), ("1234567-rp", "1234567_RP")])
def test_a_netsuite_account_is_an_account_id_and_its_suffix_only(raw, shown):
    from auditor.count.endpoints import clean_field, normal_netsuite_account
    got = clean_field("netsuite_account", normal_netsuite_account(raw))
    assert got == shown if shown else got.startswith("unreadable#") and "SECRET" not in got


@pytest.mark.parametrize("bare, bracketed", [("2001:db8::2", "[2001:db8::2]"), ("2001:0db8:0:0:0:0:0:2", "[2001:db8::2]:5432")])
def test_a_bare_ipv6_database_host_is_a_host(bare, bracketed):
    from auditor.count.endpoints import _db_host
    host, _ = _db_host(bare)
    assert host == "[2001:db8::2]" == _db_host(bracketed)[0]
