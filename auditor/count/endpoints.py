"""From a connection to its endpoint key, following a policy.

Identity facts are pulled out of the connection blocks in SQL (credentials are never selected),
normalised once per distinct value in Python, and keyed a policy rule at a time over whole columns.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from urllib.parse import urlsplit

import duckdb
import orjson
import pandas as pd

from auditor.common.conditions import evaluate, fill_keys, render, template_fields
from auditor.count.policy import Policy
from auditor.load.tables import CONNECTION_TYPES

DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "sftp": 22, "ftps": 990}
FTP_PORTS = {"ftp": 21, "sftp": 22, "ftps": 990}
# a database connection that names no port uses its type's default
DB_PORTS = {"mssql": 1433, "sqlserver": 1433, "mysql": 3306, "mariadb": 3306, "postgresql": 5432, "postgres": 5432,
            "oracle": 1521, "snowflake": 443, "redshift": 5439}
# the base URI of each kind of connection: REST connections were moved onto the HTTP block, so a
# rest connection whose rest block has no base URI is read from its http block
_URI_RAW = ("CASE lower(type) WHEN 'http' THEN http ->> '$.baseURI' "
            "WHEN 'rest' THEN coalesce(rest ->> '$.baseURI', http ->> '$.baseURI') "
            "WHEN 'mcp' THEN mcp ->> '$.serverURL' END")

_IDENTITY_SQL = r"""
SELECT account_no, scope, id, name, file, record,
       CASE WHEN scope = '*' THEN CASE WHEN sandbox THEN 'sandbox' ELSE 'production' END ELSE scope END AS environment,
       lower(type) AS type,
       lower(assistant) AS assistant,
       http ->> '$._httpConnectorId' AS http_connector,
       upper(trim(netsuite ->> '$.account')) AS netsuite_account,
       lower(netsuite ->> '$.environment') AS netsuite_environment,
       {uri_raw} AS uri_raw,
       -- what handlebars in the URI may be filled from: the record's own unencrypted fields
       CASE WHEN contains({uri_raw}, '{{{{') THEN json_object('http', http, 'rest', rest, 'settings', settings) END
         AS uri_context,
       salesforce -> '$.info' ->> '$.organization_id' AS salesforce_org,
       salesforce ->> '$.baseURI' AS salesforce_uri,
       ftp ->> '$.hostURI' AS ftp_host_raw,
       ftp ->> '$.port' AS ftp_port_raw,
       lower(ftp ->> '$.type') AS ftp_type,
       as2 ->> '$.partnerId' AS as2_partner,
       as2 -> '$.partnerStationInfo' ->> '$.as2URI' AS as2_uri,
       coalesce(rdbms, jdbc) ->> '$.type' AS db_type,
       lower(coalesce(rdbms, jdbc) ->> '$.host') AS db_host,
       coalesce(rdbms, jdbc) ->> '$.port' AS db_port,
       coalesce(rdbms, jdbc) ->> '$.database' AS db_database,
       coalesce(rdbms -> '$.bigquery' ->> '$.projectId', rdbms ->> '$.projectId') AS db_project,
       coalesce(rdbms -> '$.redshift' ->> '$.clusterIdentifier', rdbms ->> '$.clusterIdentifier') AS db_cluster,
       coalesce(rdbms -> '$.redshift' ->> '$.region', rdbms ->> '$.region') AS db_region,
       CASE json_type(mongodb -> '$.host')
            WHEN 'ARRAY' THEN array_to_string(list_sort(list_transform(
                 CAST(json_extract_string(mongodb, '$.host[*]') AS VARCHAR[]), lambda h: lower(h))), ',')
            ELSE lower(mongodb ->> '$.host') END AS mongo_hosts,
       mongodb ->> '$.database' AS mongo_database,
       coalesce(s3 ->> '$.accessKeyId', dynamodb ->> '$.accessKeyId', dynamodb -> '$.aws' ->> '$.accessKeyId') AS aws_key_raw,
       wrapper ->> '$._stackId' AS stack_id,
       _agentId AS agent_id,
       coalesce(van ->> '$.mailboxId', van ->> '$.as2Id') AS van_mailbox,
       (lower(type) = 'ftp' AND coalesce(ftp ->> '$.tradingPartner', 'false') = 'true')
         OR (lower(type) = 'as2' AND coalesce(as2 ->> '$.tradingPartner', 'false') = 'true') AS trading_partner,
       {problem} AS identity_problem
FROM connections
"""


def fingerprint(raw: str) -> str:
    """What stands for a value that cannot be shown: the same value gives the same mark, two
    values never one, and nothing of the value can be read back from it."""
    return "#" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def mask_key(raw: str) -> str:
    """An access key id, shown masked with a fingerprint so that two keys never collide."""
    shown = f"{raw[:4]}…{raw[-4:]}" if len(raw) > 12 else "…"
    return f"{shown}{fingerprint(raw)}"


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_secret(segment: str) -> bool:
    """A path segment that is probably a token (a webhook's secret, a bot token): long, mixed
    and random-looking. Masking a segment that is not one costs readability, never a count."""
    if len(segment) >= 32 and re.fullmatch(r"[0-9a-fA-F-]+", segment):
        return True
    if len(segment) < 20:
        return False
    classes = sum(bool(re.search(p, segment)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes >= 2 and _entropy(segment) >= 3.7 and (sum(c.isdigit() for c in segment) >= 2 or len(segment) >= 32)


def _clean_path(path: str) -> str:
    """A URI path as a key shows it: matrix parameters (`;jsessionid=...`) dropped, segments
    that look like secrets masked with a fingerprint, no trailing slash."""
    segments = [seg.split(";", 1)[0] for seg in path.split("/")]
    return "/".join(f"…{fingerprint(seg)}" if looks_secret(seg) else seg for seg in segments).rstrip("/")


_HOST = re.compile(r"[\w.~-]+|\[[0-9a-f:.]+\]")  # a DNS name (IDN too), an IPv4 or a bracketed IPv6 address


# The identity fields a policy reads, per connection block (checked only on connections of that
# type): the JSON types each may have. A field of another type is a load note and the connection
# is keyed by itself, flagged unresolved: a number for a host or "yes" for a flag read as if it
# were sound would merge or split endpoints silently.
STR, BOOL, OBJ, ARR, PORT = "VARCHAR", "BOOLEAN", "OBJECT", "ARRAY", "PORT"
IDENTITY_FIELDS = {
    "http": {"baseURI": STR, "_httpConnectorId": STR},
    "rest": {"baseURI": STR},
    "mcp": {"serverURL": STR},
    "netsuite": {"account": STR, "environment": STR},
    "salesforce": {"info": OBJ, "info.organization_id": STR, "baseURI": STR},
    "ftp": {"hostURI": STR, "port": PORT, "type": STR, "tradingPartner": BOOL},
    "as2": {"partnerId": STR, "partnerStationInfo": OBJ, "partnerStationInfo.as2URI": STR, "tradingPartner": BOOL},
    "rdbms": {"type": STR, "host": STR, "port": PORT, "database": STR, "projectId": STR, "clusterIdentifier": STR,
              "region": STR, "bigquery": OBJ, "bigquery.projectId": STR, "redshift": OBJ,
              "redshift.clusterIdentifier": STR, "redshift.region": STR},
    "jdbc": {"type": STR, "host": STR, "port": PORT, "database": STR},
    "mongodb": {"host": STR + "|" + ARR, "database": STR},
    "s3": {"accessKeyId": STR},
    "dynamodb": {"accessKeyId": STR, "aws": OBJ, "aws.accessKeyId": STR},
    "wrapper": {"_stackId": STR},
    "van": {"mailboxId": STR, "as2Id": STR},
}
_TYPE_WORDS = {"VARCHAR": "a string", "BIGINT": "a number", "UBIGINT": "a number", "DOUBLE": "a number",
               "BOOLEAN": "true or false", "OBJECT": "an object", "ARRAY": "an array"}


def _identity_problem_sql() -> str:
    """SQL: the first identity field of a connection whose type is wrong, said in words. Each
    connection is checked against its own type's block only (one CASE branch per type)."""
    words = "CASE {t} " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in _TYPE_WORDS.items()) + " ELSE 'null' END"
    branches = {}
    for block, fields in IDENTITY_FIELDS.items():
        cases = []
        for path, kind in fields.items():
            value = f"({block} -> '$.{path}')"
            t = f"json_type({value})"
            if kind == PORT:  # a whole number from 1 to 65535, or the same as text
                bad = (f"NOT (({t} IN ('BIGINT', 'UBIGINT') AND TRY_CAST({value} AS BIGINT) BETWEEN 1 AND 65535) OR "
                       f"({t} = 'VARCHAR' AND regexp_full_match({value} ->> '$', '\\s*[0-9]{{1,5}}\\s*') AND "
                       f"TRY_CAST(trim({value} ->> '$') AS INTEGER) BETWEEN 1 AND 65535))")
                want = "a port number (1 to 65535)"
            else:
                allowed = kind.split("|")
                bad = f"{t} NOT IN ({', '.join(repr(a) for a in allowed)})"
                want = " or ".join(_TYPE_WORDS[a] for a in allowed)
            cases.append(f"WHEN {value} IS NOT NULL AND {t} <> 'NULL' AND {bad} "
                         f"THEN '{block}.{path} must be {want}, not ' || {words.format(t=t)}")
        if block == "mongodb":
            cases.append("WHEN json_type(mongodb -> '$.host') = 'ARRAY' AND len(list_filter(CAST(json_extract("
                         "mongodb, '$.host[*]') AS JSON[]), lambda h: json_type(h) <> 'VARCHAR')) > 0 "
                         "THEN 'mongodb.host must hold strings only'")
        branches[block] = f"CASE WHEN {block} IS NULL THEN NULL {' '.join(cases)} END"
    # a rest connection without a rest block is read (and so checked) from its http block
    branches["rest"] = f"CASE WHEN rest IS NOT NULL THEN {branches['rest']} ELSE {branches['http']} END"
    return "CASE lower(type) " + " ".join(f"WHEN '{t}' THEN {sql}" for t, sql in branches.items()) + " END"


def normalise_uri(raw: str) -> tuple[str, str | None, bool]:
    """(key form, host, readable) of a base URI: scheme and host lower case, default port, user
    info, query, fragment and matrix parameters dropped, secret-looking path segments masked,
    no trailing slash. A URI with handlebars keeps its path as written (but never its user info
    or query). A URI that cannot be parsed (a bad port, a broken bracket) is keyed by its
    fingerprint alone: its raw text could carry a password."""
    text = raw.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
        host = (parts.hostname or "").lower()
    except ValueError:
        return f"unreadable{fingerprint(raw)}", None, False
    templated = "{{" in raw
    if not templated and (not host or not _HOST.fullmatch(host) or any(c.isspace() or ord(c) < 32 for c in text)):
        return f"unreadable{fingerprint(raw)}", None, False
    scheme = parts.scheme.lower()
    if templated:  # as written: the host part may itself be a template
        netloc = parts.netloc.rsplit("@", 1)[-1]
    else:
        netloc = host + (f":{port}" if port and port != DEFAULT_PORTS.get(scheme) else "")
    return f"{scheme}://{netloc}{_clean_path(parts.path)}", host or None, True


def _host_port(raw: str, default_scheme: str) -> tuple[str | None, int | None]:
    """(host, port) of a host name or URI, user info dropped; (None, None) when it cannot be
    parsed or the host is not a plain name or address (never the raw text)."""
    text = raw.strip()
    if "://" not in text:
        text = f"{default_scheme}://{text}"
    try:
        parts = urlsplit(text)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None, None
    return (host, port) if _HOST.fullmatch(host) else (None, None)


def clean_host(raw: str) -> str:
    """A database or MongoDB host as keys show it: `host[:port]`, lower case, any scheme and user
    info (`root:SECRET@`) dropped; a fingerprint when it is not a plain host."""
    host, port = _host_port(raw, "db")
    if host is None:  # user info the URL parser trips on: what follows the last @, up to a path
        host, port = _host_port(raw.rsplit("@", 1)[-1].split("/", 1)[0], "db")
    if host is None:
        return f"unreadable{fingerprint(raw)}"
    return host + (f":{port}" if port else "")


def clean_id(raw: str) -> str:
    """An identity value that is an id (an account, a database, a project, a mailbox, an
    application): as it is when it reads as one, else masked by a fingerprint (user info such as
    `u:pw@` has characters no id has). Long mixed ids are ordinary here (`my-project-123456789`)."""
    text = raw.strip()
    if not text or re.fullmatch(r"[\w .:/+=,-]{1,200}", text):
        return text
    return f"unreadable{fingerprint(raw)}"


# {{connection.settings.storeName}}, {{{connection.http.unencrypted.instanceurl}}}: a field of the
# connection itself. Only fields that hold no secret are read: its settings and the unencrypted
# part of its http or rest block (never `encrypted`, `auth`, tokens).
_HANDLEBARS = re.compile(r"\{\{\{?\s*([^{}]*?)\s*\}?\}\}")
_FILLABLE = re.compile(r"connection\.((?:http|rest)\.unencrypted|settings)\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")


def _fill_handlebars(raw: str, context: str) -> tuple[str, str | None]:
    """(URI, the fields it was filled from) with each handlebars expression replaced by the
    connection's own value; the URI unchanged (and None) unless every expression can be filled
    with a plain text value."""
    try:
        record = orjson.loads(context)
    except orjson.JSONDecodeError:
        return raw, None
    fields: list[str] = []

    def value(match: re.Match) -> str:
        path = match.group(1)
        if not _FILLABLE.fullmatch(path):
            raise LookupError(path)
        node = record
        for part in path.split(".")[1:]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, str) or not node.strip() or "{{" in node:
            raise LookupError(path)
        fields.append(path.split(".", 1)[1])
        return node.strip()

    try:
        filled = _HANDLEBARS.sub(value, raw)
    except LookupError:
        return raw, None
    return (filled, ", ".join(dict.fromkeys(fields))) if fields else (raw, None)


def _map_distinct(series: pd.Series, fn) -> pd.Series:
    """`fn` (value -> value) applied once per distinct non-null value of `series` (as an object
    column, missing values NaN)."""
    return series.map({v: fn(v) for v in series.dropna().unique()}).astype(object)


def _per_distinct(series: pd.Series, fn, columns: list[str]) -> pd.DataFrame:
    """`fn` (value -> tuple) applied once per distinct non-null value of `series`; one row per
    row of `series`, with the given column names (None where the value is missing)."""
    distinct = series.dropna().unique()
    table = pd.DataFrame([fn(v) for v in distinct], index=distinct, columns=columns, dtype=object)
    return table.reindex(series.to_numpy()).set_axis(series.index)


# the identity columns read from the blocks: blanked on a connection whose identity fields have a
# wrong type, so that it is keyed by itself
RAW_IDENTITY = ["http_connector", "netsuite_account", "netsuite_environment", "uri_raw", "salesforce_org",
                "salesforce_uri", "ftp_host_raw", "ftp_port_raw", "ftp_type", "as2_partner", "as2_uri", "db_type",
                "db_host", "db_port", "db_database", "db_project", "db_cluster", "db_region", "mongo_hosts",
                "mongo_database", "aws_key_raw", "stack_id", "van_mailbox"]
ID_COLUMNS = ["type", "assistant", "http_connector", "netsuite_account", "salesforce_org", "as2_partner", "db_type",
              "db_database", "db_project", "db_cluster", "db_region", "mongo_database", "stack_id", "agent_id",
              "van_mailbox"]


def identities(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per connection with the identity columns a policy keys on. Every value read from
    a connection block goes through a sanitiser (URIs, hosts, ids) before it can become a key."""
    df = con.execute(_IDENTITY_SQL.format(problem=_identity_problem_sql(), uri_raw=_URI_RAW)).df()
    bad = df["identity_problem"].notna()
    if bad.any():
        df.loc[bad, RAW_IDENTITY] = None
        df.loc[bad, "trading_partner"] = False
    for col in ID_COLUMNS:
        df[col] = _map_distinct(df[col], clean_id)
    df["db_host"] = _map_distinct(df["db_host"], clean_host)
    df["mongo_hosts"] = _map_distinct(df["mongo_hosts"], lambda v: ",".join(sorted(clean_host(h) for h in v.split(","))))
    df["application"] = df["assistant"].fillna(df["http_connector"]).fillna(df["type"]).fillna("unknown")
    # only the few URIs with handlebars have a context to fill them from
    templated = df["uri_context"].notna()
    filled = [_fill_handlebars(raw, context) for raw, context in
              zip(df.loc[templated, "uri_raw"], df.loc[templated, "uri_context"])]
    df["uri_resolved_from"] = pd.Series(None, index=df.index, dtype=object)
    if filled:
        df.loc[templated, "uri_raw"] = [uri for uri, _ in filled]
        df.loc[templated, "uri_resolved_from"] = [fields for _, fields in filled]
    uri = _per_distinct(df["uri_raw"], normalise_uri, ["uri", "uri_host", "readable"])
    df[["uri", "uri_host"]] = uri[["uri", "uri_host"]]
    df["uri_unreadable"] = uri["readable"].eq(False)
    df["uri_templated"] = df["uri_raw"].str.contains("{{", regex=False).fillna(False).astype(bool) & ~df["uri_unreadable"]
    df["salesforce_host"] = _per_distinct(df["salesforce_uri"], lambda v: _host_port(v, "https"), ["host", "port"])["host"]
    ftp = _per_distinct(df["ftp_host_raw"], lambda v: _host_port(v, "ftp"), ["host", "port"])
    is_ftp = df["type"] == "ftp"
    df["ftp_host"] = ftp["host"]
    default_port = df["ftp_type"].where(df["ftp_type"].isin(list(FTP_PORTS)), "ftp").map(FTP_PORTS)
    port = pd.to_numeric(df["ftp_port_raw"], errors="coerce").fillna(pd.to_numeric(ftp["port"], errors="coerce"))
    df["ftp_port"] = port.fillna(default_port).where(is_ftp).astype("Int64").astype("string")
    df["netsuite_sandbox"] = (
        df["netsuite_account"].str.contains(r"_(?:SB\d+|RP)$", regex=True, na=False)
        | df["netsuite_environment"].isin(["sandbox", "sandbox2.0", "beta"])
    )
    df["aws_key"] = _map_distinct(df["aws_key_raw"], mask_key)
    default_db_port = df["db_type"].str.lower().map(DB_PORTS)
    df["db_port"] = df["db_port"].fillna(default_db_port.astype("Int64").astype("string")).astype(object)
    # trading partners are tallied by server and port: FTP host, else the AS2 URL's, else the partner id
    as2 = _per_distinct(df["as2_uri"], lambda v: _host_port(v, "https"), ["host", "port"])
    df["tp_host"] = df["ftp_host"].where(is_ftp, as2["host"]).fillna(df["as2_partner"])
    as2_port = pd.to_numeric(as2["port"], errors="coerce").astype("Int64").astype("string")
    df["tp_port"] = df["ftp_port"].where(is_ftp, as2_port).fillna("default")
    df["known_type"] = df["type"].isin(CONNECTION_TYPES)
    return df.drop(columns=["uri_raw", "uri_context", "salesforce_uri", "ftp_host_raw", "ftp_port_raw", "ftp_type",
                            "as2_uri", "aws_key_raw", "http_connector", "netsuite_environment"])


def key_connections(df: pd.DataFrame, policy: Policy, endpoint_plan: dict[int, bool] | None = None) -> pd.DataFrame:
    """Adds role (endpoint | not-endpoint | trading-partner), key, application, category,
    resolved and explain to each connection. `endpoint_plan` (account_no -> on the endpoint plan):
    a trading-partner connection of an account on another plan is an ordinary endpoint, since the
    exemption "applies to existing customers on the endpoint pricing model only" (help center
    360060126192); without it every account is taken to be on the endpoint plan."""
    out = df.copy()
    out["role"] = "endpoint"
    out["key"] = None
    out["endpoint_application"] = None
    out["category"] = None
    out["resolved"] = True
    out["explain"] = None
    for rule in policy.not_endpoints:
        hit = evaluate(rule.when, out) & (out["role"] == "endpoint")
        out.loc[hit, "role"] = "not-endpoint"
        out.loc[hit, "explain"] = rule.reason
    marked = evaluate(policy.trading_partners.when, out) & (out["role"] == "endpoint")
    exempt = out["account_no"].map(endpoint_plan).fillna(True).astype(bool) if endpoint_plan is not None else True
    tp = marked & exempt
    ordinary = marked & ~tp
    if tp.any():
        keys, complete = fill_keys(policy.trading_partners.key, out[tp])
        out.loc[tp, "role"] = "trading-partner"
        out.loc[tp, "key"] = keys
        out.loc[tp, "category"] = "trading partner"
        out.loc[tp, "endpoint_application"] = out.loc[tp, "type"].str.upper()
        out.loc[tp, "explain"] = "a trading-partner connection uses a trading-partner entitlement, tallied by server and port"
        # no server named: which trading partner it reaches is unknown, so it is one of its own
        alone = complete[~complete].index
        out.loc[alone, "key"] = "connection:" + out.loc[alone, "id"].astype(str)
        out.loc[alone, "resolved"] = False
        out.loc[alone, "explain"] = ("a trading-partner connection that names no server: counted as a trading partner "
                                     "of its own, since which server it reaches is unknown")
    for rule in [*policy.endpoints, policy.fallback]:
        todo = (out["role"] == "endpoint") & out["key"].isna()
        if not todo.any():
            break
        hit = todo & evaluate(rule.when, out)
        if not hit.any():
            continue
        keys, complete = fill_keys(rule.key, out[hit])
        rows = complete[complete].index
        if rows.empty:
            continue
        out.loc[rows, "key"] = keys[rows]
        out.loc[rows, "endpoint_application"] = render(rule.application, out.loc[rows])
        out.loc[rows, "category"] = rule.category
        out.loc[rows, "resolved"] = rule.resolved
        out.loc[rows, "explain"] = render(rule.explain, out.loc[rows]) if template_fields(rule.explain) else rule.explain
    if ordinary.any():
        out.loc[ordinary, "explain"] = (out.loc[ordinary, "explain"] + "; a trading-partner connection, but the "
                                        "trading-partner exemption exists on the endpoint plan only, so it is an "
                                        "ordinary endpoint here (help center 360060126192)")
    return out
