"""From a connection to its endpoint key, following a policy.

Identity facts are pulled out of the connection blocks in SQL (credentials are never selected),
normalised once per distinct value in Python, and keyed a policy rule at a time over whole columns.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import duckdb
import pandas as pd

from auditor.conditions import evaluate, fill_keys, render
from auditor.load.tables import CONNECTION_TYPES
from auditor.policy import Policy

DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "sftp": 22, "ftps": 990}
FTP_PORTS = {"ftp": 21, "sftp": 22, "ftps": 990}

IDENTITY_SQL = r"""
SELECT account_no, scope, id, name, file, record,
       CASE WHEN scope = '*' THEN CASE WHEN sandbox THEN 'sandbox' ELSE 'production' END ELSE scope END AS environment,
       lower(type) AS type,
       lower(assistant) AS assistant,
       http ->> '$._httpConnectorId' AS http_connector,
       upper(trim(netsuite ->> '$.account')) AS netsuite_account,
       lower(netsuite ->> '$.environment') AS netsuite_environment,
       CASE lower(type) WHEN 'http' THEN http ->> '$.baseURI' WHEN 'rest' THEN rest ->> '$.baseURI'
                        WHEN 'mcp' THEN mcp ->> '$.serverURL' END AS uri_raw,
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
         OR (lower(type) = 'as2' AND coalesce(as2 ->> '$.tradingPartner', 'false') = 'true') AS trading_partner
FROM connections
"""


def normalise_uri(raw: str) -> tuple[str, str | None]:
    """(key form, host) of a base URI: scheme and host lower case, default port, user info,
    query and fragment dropped, no trailing slash. A URI with handlebars keeps its path as written
    (but never its user info or query, which may carry credentials)."""
    text = raw.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text.split("?", 1)[0].split("#", 1)[0].rstrip("/"), None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host + (f":{port}" if port and port != DEFAULT_PORTS.get(scheme) else "")
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}", host or None


def _host_port(raw: str, default_scheme: str) -> tuple[str | None, int | None]:
    text = raw.strip()
    if "://" not in text:
        text = f"{default_scheme}://{text}"
    try:
        parts = urlsplit(text)
        return (parts.hostname or "").lower() or None, parts.port
    except ValueError:
        return None, None


def mask_key(raw: str) -> str:
    """An access key id, shown masked with a fingerprint so that two keys never collide."""
    digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
    shown = f"{raw[:4]}…{raw[-4:]}" if len(raw) > 12 else "…"
    return f"{shown}#{digest}"


def _per_distinct(series: pd.Series, fn, columns: list[str]) -> pd.DataFrame:
    """`fn` (value -> tuple) applied once per distinct non-null value of `series`; one row per
    row of `series`, with the given column names (None where the value is missing)."""
    distinct = series.dropna().unique()
    table = pd.DataFrame([fn(v) for v in distinct], index=distinct, columns=columns, dtype=object)
    return table.reindex(series.to_numpy()).set_axis(series.index)


def identities(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per connection with the identity columns a policy keys on."""
    df = con.execute(IDENTITY_SQL).df()
    df["application"] = df["assistant"].fillna(df["http_connector"]).fillna(df["type"]).fillna("unknown")
    uri = _per_distinct(df["uri_raw"], normalise_uri, ["uri", "uri_host"])
    df[["uri", "uri_host"]] = uri
    df["uri_templated"] = df["uri_raw"].str.contains("{{", regex=False).fillna(False).astype(bool)
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
    df["aws_key"] = _per_distinct(df["aws_key_raw"], lambda v: (mask_key(v),), ["key"])["key"]
    # trading partners are tallied by server and port: FTP host, else the AS2 URL's, else the partner id
    as2 = _per_distinct(df["as2_uri"], lambda v: _host_port(v, "https"), ["host", "port"])
    df["tp_host"] = df["ftp_host"].where(is_ftp, as2["host"]).fillna(df["as2_partner"])
    as2_port = pd.to_numeric(as2["port"], errors="coerce").astype("Int64").astype("string")
    df["tp_port"] = df["ftp_port"].where(is_ftp, as2_port).fillna("default")
    df["known_type"] = df["type"].isin(CONNECTION_TYPES)
    return df.drop(columns=["uri_raw", "salesforce_uri", "ftp_host_raw", "ftp_port_raw", "ftp_type",
                            "as2_uri", "aws_key_raw", "http_connector", "netsuite_environment"])


def key_connections(df: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Adds role (endpoint | not-endpoint | trading-partner), key, application, category,
    resolved and explain to each connection."""
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
    tp = evaluate(policy.trading_partners.when, out) & (out["role"] == "endpoint")
    if tp.any():
        keys, _ = fill_keys(policy.trading_partners.key, out[tp])
        out.loc[tp, "role"] = "trading-partner"
        out.loc[tp, "key"] = keys
        out.loc[tp, "category"] = "trading partner"
        out.loc[tp, "endpoint_application"] = out.loc[tp, "type"].str.upper()
        out.loc[tp, "explain"] = "a trading-partner connection uses a trading-partner entitlement, tallied by server and port"
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
        out.loc[rows, "explain"] = rule.explain
    return out
