"""Endpoint keys under the default and community policies, and URI normalisation."""

from __future__ import annotations

import pytest
from conftest import account, audited, flow

from auditor.count.endpoints import clean_field, clean_host, mask_key, normalise_uri


def keys(tmp_path, run_cli, conns, *args, environment="production"):
    """Audit one flow per connection, in-process (`args`: --policy NAME); return {connection id:
    endpoint key} and the results."""
    snap = account(tmp_path, conns, [flow(f"f-{c['_id']}", exports=[f"e-{c['_id']}"],
                                          **({"sandbox": True} if c.get("sandbox") else {})) for c in conns])
    results = audited(snap, **({"policy": args[args.index("--policy") + 1]} if "--policy" in args else {}))
    out = {}
    for e in results["accounts"][0]["endpoints"]:
        if e["environment"] == environment:
            for c in e["connections"]:
                out[c] = e["key"]
    return out, results


@pytest.mark.parametrize("raw,key,host", [
    ("https://API.Example.com/v1/", "https://api.example.com/v1", "api.example.com"),
    ("https://api.example.com:443/v1", "https://api.example.com/v1", "api.example.com"),
    ("http://api.example.com:80", "http://api.example.com", "api.example.com"),
    ("https://api.example.com:8443/v1", "https://api.example.com:8443/v1", "api.example.com"),
    ("https://user:pw@api.example.com/v1?token=x#frag", "https://api.example.com/v1", "api.example.com"),
    ("api.example.com/v2", "https://api.example.com/v2", "api.example.com"),
    ("https://api.example.com/V1", "https://api.example.com/V1", "api.example.com"),  # paths keep their case
])
def test_normalise_uri(raw, key, host):
    assert normalise_uri(raw) == (key, host, True)


@pytest.mark.parametrize("raw", [
    "https://app:SECRET@api.example.com:99999/v1",  # a port out of range
    "https://app:SECRET@[::1/v1",  # a broken IPv6 bracket
    "https://app:SECRET@api.example.com:port/v1",  # a port that is not a number
    "https://app:SECRET@api exa mple.com/v1",  # spaces in the host
    "https://app:SECRET@api.example.com\x1b[31m/v1",  # a control character
])
def test_a_uri_the_parser_trips_on_is_keyed_by_a_fingerprint_never_its_text(raw):
    key, host, readable = normalise_uri(raw)
    assert not readable and host is None and key.startswith("unreadable#") and "SECRET" not in key
    assert normalise_uri(raw) == (key, host, readable)  # stable: the same URI is the same endpoint
    assert normalise_uri(raw + "x")[0] != key  # and two URIs are never one


@pytest.mark.parametrize("raw,key", [
    ("https://api.example.com/app;jsessionid=SECRET/x", "https://api.example.com/app/x"),  # matrix parameters
    # after `services` a webhook's ids and token follow: masked together (issue 25)
    ("https://hooks.example.com/services/T000/B000/XkD93jfQ0pL2mZ8aR7tY4wE1", "https://hooks.example.com/services/…#"),
    ("https://api.telegram.org/bot123456789:AAHk3jd8fJ2kLmN0pQrStUvWxYz12345678/sendMessage", "https://api.telegram.org/…#"),
    ("https://example.com/hook/0123456789abcdef0123456789abcdef", "https://example.com/hook/…#"),
])
def test_secrets_in_uri_paths_are_masked_with_a_fingerprint(raw, key):
    got, host, readable = normalise_uri(raw)
    assert got.startswith(key) and readable
    assert not any(part in got for part in ("SECRET", "XkD93jfQ", "AAHk3jd8", "0123456789abcdef0"))


@pytest.mark.parametrize("path", ["/v1/orders", "/api/2024-01/graphql.json", "/services/data/v58.0",
                                  "/rest/V1/customerOrdersExport"])
def test_ordinary_paths_are_shown_as_they_are(path):
    assert normalise_uri("https://api.example.com" + path)[0] == "https://api.example.com" + path


@pytest.mark.parametrize("raw,shown", [
    ("root:SECRET@db.example.com", "db.example.com"),
    ("mongodb+srv://app:SECRET@cluster0.example.net", "cluster0.example.net"),
    ("mongodb://app:SECRET@db1.example.net:27017/admin?ssl=true", "db1.example.net:27017"),
    ("DB.Example.com", "db.example.com"),
])
def test_database_hosts_lose_user_info(raw, shown):
    assert clean_host(raw) == shown


@pytest.mark.parametrize("raw", ["root:SECRET@db.example.com:99999", "app:SECRET@[::1", "db example com"])
def test_database_hosts_that_cannot_be_parsed_become_fingerprints(raw):
    shown = clean_host(raw)
    assert shown.startswith("unreadable#") and "SECRET" not in shown and "example" not in shown


def test_mask_key_shows_ends_and_never_collides():
    a, b = mask_key("AKIAIOSFODNN7EXAMPLE"), mask_key("AKIAIOSFODNN8EXAMPLE")
    assert a.startswith("AKIA…MPLE#") and a != b and "IOSFODNN7" not in a


def test_netsuite_sandboxes_are_one_endpoint_production_accounts_are_not(tmp_path, run_cli):
    conns = [
        {"_id": "p1", "type": "netsuite", "netsuite": {"account": "tstdrv1", "environment": "production"}},
        {"_id": "p1b", "type": "netsuite", "netsuite": {"account": "TSTDRV1"}},
        {"_id": "p2", "type": "netsuite", "netsuite": {"account": "TSTDRV2"}},
        {"_id": "sb1", "type": "netsuite", "netsuite": {"account": "TSTDRV1_SB1"}},
        {"_id": "sb2", "type": "netsuite", "netsuite": {"account": "tstdrv1_sb2"}},
        {"_id": "rp", "type": "netsuite", "netsuite": {"account": "TSTDRV1_RP"}},
        {"_id": "beta", "type": "netsuite", "netsuite": {"account": "OTHER", "environment": "beta"}},
        {"_id": "sb20", "type": "netsuite", "netsuite": {"account": "X", "environment": "sandbox2.0"}},
    ]
    got, run = keys(tmp_path, run_cli, conns)
    assert got == {"p1": "netsuite:TSTDRV1", "p1b": "netsuite:TSTDRV1", "p2": "netsuite:TSTDRV2",
                   **{c: "netsuite:sandboxes" for c in ("sb1", "sb2", "rp", "beta", "sb20")}}
    env = run["accounts"][0]["environments"][0]
    assert env["endpoints"]["used"] == 3
    sandboxes = next(e for e in run["accounts"][0]["endpoints"] if e["key"] == "netsuite:sandboxes")
    assert "single endpoint" in sandboxes["explain"] and sandboxes["category"] == "application"


def test_uris_http_rest_and_mcp(tmp_path, run_cli):
    conns = [
        {"_id": "h", "type": "http", "assistant": "shopify", "http": {"baseURI": "https://shop.example.com/api/"}},
        {"_id": "r", "type": "rest", "rest": {"baseURI": "HTTPS://Shop.Example.com:443/api"}},
        {"_id": "other", "type": "http", "assistant": "shopify", "http": {"baseURI": "https://shop2.example.com/api"}},
        {"_id": "mcp", "type": "mcp", "mcp": {"serverURL": "https://mcp.example.com/sse"}},
    ]
    got, run = keys(tmp_path, run_cli, conns)
    assert got == {"h": "uri:https://shop.example.com/api", "r": "uri:https://shop.example.com/api",
                   "other": "uri:https://shop2.example.com/api", "mcp": "uri:https://mcp.example.com/sse"}
    merged = next(e for e in run["accounts"][0]["endpoints"] if e["connections"] == ["h", "r"])
    assert merged["application"] == "shopify"  # the named application wins over the generic type


def test_integrator_io_api_connections_are_not_endpoints(tmp_path, run_cli):
    conns = [{"_id": "a", "type": "http", "assistant": "integratorio", "http": {"baseURI": "https://api.integrator.io"}},
             {"_id": "b", "type": "http", "assistant": "integratorceligoapi", "http": {"baseURI": "https://api.integrator.io/v1"}}]
    got, run = keys(tmp_path, run_cli, conns)
    assert got == {}
    roles = {c["id"]: (c["role"], c["explain"]) for c in run["accounts"][0]["connections"]}
    assert roles["a"][0] == roles["b"][0] == "not-endpoint" and "February 2022" in roles["a"][1]


def test_other_connection_types(tmp_path, run_cli):
    conns = [
        {"_id": "sf", "type": "salesforce", "salesforce": {"info": {"organization_id": "00D1"}, "baseURI": "https://x.my.salesforce.com"}},
        {"_id": "sf2", "type": "salesforce", "salesforce": {"baseURI": "https://Y.my.salesforce.com/"}},
        {"_id": "ftp", "type": "ftp", "ftp": {"hostURI": "FTP.Example.com"}},
        {"_id": "sftp", "type": "ftp", "ftp": {"hostURI": "ftp.example.com", "type": "sftp"}},
        {"_id": "ftps", "type": "ftp", "ftp": {"hostURI": "ftp.example.com", "type": "ftps", "port": 2121}},
        {"_id": "as2", "type": "as2", "as2": {"partnerId": "ACME-AS2"}},
        {"_id": "pg", "type": "rdbms", "rdbms": {"type": "postgresql", "host": "DB.example", "port": 5432, "database": "d"}},
        {"_id": "bq", "type": "rdbms", "rdbms": {"type": "bigquery", "bigquery": {"projectId": "proj"}}},
        {"_id": "rs", "type": "rdbms", "rdbms": {"type": "redshift", "redshift": {"clusterIdentifier": "c1", "region": "us-east-1"}}},
        {"_id": "jd", "type": "jdbc", "jdbc": {"type": "oracle", "host": "ora", "port": 1521, "database": "x"}},
        {"_id": "mg", "type": "mongodb", "mongodb": {"host": ["b.example", "A.example"], "database": "m"}},
        {"_id": "s3", "type": "s3", "s3": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE"}},
        {"_id": "ddb", "type": "dynamodb", "dynamodb": {"aws": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE"}}},
        {"_id": "wr", "type": "wrapper", "wrapper": {"_stackId": "stack1"}},
        {"_id": "fs", "type": "filesystem", "_agentId": "agent1"},
        {"_id": "van", "type": "van", "van": {"mailboxId": "mb1"}},
    ]
    got, _ = keys(tmp_path, run_cli, conns)
    masked = mask_key("AKIAIOSFODNN7EXAMPLE")
    assert got == {
        "sf": "salesforce:00D1", "sf2": "salesforce:y.my.salesforce.com",
        "ftp": "ftp:ftp.example.com:21", "sftp": "ftp:ftp.example.com:22", "ftps": "ftp:ftp.example.com:2121",
        "as2": "as2:ACME-AS2", "pg": "postgresql:db.example:5432/d", "bq": "bigquery:proj",
        "rs": "redshift:c1:us-east-1", "jd": "oracle:ora:1521/x", "mg": "mongodb:a.example,b.example/m",
        "s3": f"s3:{masked}", "ddb": f"dynamodb:{masked}", "wr": "wrapper:stack1", "fs": "filesystem:agent1",
        "van": "van:mb1",
    }


def test_unresolvable_connections_are_their_own_endpoint_with_a_finding(tmp_path, run_cli):
    conns = [
        {"_id": "tpl", "type": "http", "http": {"baseURI": "https://{{connection.settings.store}}.example.com/api?key=k"}},
        {"_id": "noacct", "type": "netsuite", "netsuite": {}},
        {"_id": "odd", "type": "carrier-pigeon"},
    ]
    got, run = keys(tmp_path, run_cli, conns)
    assert got == {"tpl": "uri:https://{{connection.settings.store}}.example.com/api",
                   "noacct": "connection:noacct", "odd": "connection:odd"}
    found = {f["resource"]["id"]: f for f in run["findings"] if f["rule"] == "endpoint-identity-unresolved"}
    assert set(found) == set(got.values())
    assert "handlebars" in found["uri:https://{{connection.settings.store}}.example.com/api"]["reason"]
    notes = [i for i in run["load_issues"] if i["id"] == "odd"]
    assert notes and notes[0]["action"] == "counted" and "carrier-pigeon" in notes[0]["problem"]
    assert notes[0]["record"] == 2


def test_community_policy_groups_by_application(tmp_path, run_cli):
    conns = [
        {"_id": "ns1", "type": "netsuite", "netsuite": {"account": "A"}},
        {"_id": "ns2", "type": "netsuite", "netsuite": {"account": "B_SB1"}},
        {"_id": "sf1", "type": "salesforce", "salesforce": {"info": {"organization_id": "1"}}},
        {"_id": "sf2", "type": "salesforce", "salesforce": {"info": {"organization_id": "2"}}},
        {"_id": "shop1", "type": "http", "assistant": "shopify", "http": {"baseURI": "https://a.myshopify.com"}},
        {"_id": "shop2", "type": "http", "assistant": "shopify", "http": {"baseURI": "https://b.myshopify.com"}},
        {"_id": "api1", "type": "rest", "rest": {"baseURI": "https://api.example.com/v1"}},
        {"_id": "api2", "type": "rest", "rest": {"baseURI": "https://api.example.com/v2"}},
    ]
    default, _ = keys(tmp_path, run_cli, conns)
    assert len(set(default.values())) == 8  # every account, org, store and URI apart
    community, run = keys(tmp_path, run_cli, conns, "--policy", "community")
    assert community == {"ns1": "netsuite", "ns2": "netsuite", "sf1": "salesforce", "sf2": "salesforce",
                         "shop1": "app:shopify", "shop2": "app:shopify",
                         "api1": "host:api.example.com", "api2": "host:api.example.com"}
    assert run["policy"] == "community"
    assert "policy community" in run_cli("audit", tmp_path / "acct", "--policy", "community").stdout


def test_policy_from_a_file_and_bad_policies(tmp_path, run_cli):
    policy = tmp_path / "mine.yaml"
    policy.write_text("""
name: one-per-type
description: every connection type is one endpoint
trading_partners: {when: {trading_partner: true}, key: "{tp_host}"}
endpoints:
  - {key: "{type}", application: "{type}", category: universal, explain: one per type}
fallback: {key: "connection:{id}", application: "{type}", category: universal, explain: x, resolved: false}
""")
    conns = [{"_id": "a", "type": "http", "http": {"baseURI": "https://a"}},
             {"_id": "b", "type": "http", "http": {"baseURI": "https://b"}}]
    got, run = keys(tmp_path, run_cli, conns, "--policy", str(policy))
    assert got == {"a": "http", "b": "http"} and run["policy"] == "one-per-type"

    policy.write_text(policy.read_text().replace("{type}\", application", "{colour}\", application"))
    bad = run_cli("audit", tmp_path / "acct", "--policy", str(policy))
    assert bad.exit_code == 2
    assert "mine.yaml" in bad.stderr and "colour" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("audit", tmp_path / "acct", "--policy", "nope")
    assert missing.exit_code == 2 and "built in: community, default" in missing.stderr


@pytest.mark.parametrize("column, raw", [("db_project", "my-project-123456789"),
                                         ("db_database", "analytics_warehouse_2024"),
                                         ("netsuite_account", "TSTDRV1234567_SB1"),
                                         ("salesforce_org", "00D5g000004UMBRXYZ"), ("assistant", "shopify"),
                                         ("db_database", "")])
def test_ordinary_ids_are_shown_as_they_are(column, raw):
    """Only what the field cannot hold (user info, control characters) is masked: a long mixed id is an id."""
    assert clean_field(column, raw) == raw


@pytest.mark.parametrize("raw", ["u:pw@1234567", "shop\x1b[2J", "a" * 201])
def test_ids_with_what_no_id_holds_become_fingerprints(raw):
    assert clean_field("db_database", raw).startswith("unreadable#")
