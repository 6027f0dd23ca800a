"""From a connection to its endpoint key, following a policy.

Identity facts are pulled out of the connection blocks in SQL (credentials are never selected),
normalised once per distinct value in Python, and keyed a policy rule at a time over whole columns.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import math
import re
import unicodedata
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
       netsuite ->> '$.account' AS netsuite_account,
       lower(trim(netsuite ->> '$.environment')) AS netsuite_environment,
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
       lower(trim(coalesce(rdbms, jdbc) ->> '$.type')) AS db_type,
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


# Every pattern below reads input: each is linear (single character classes, bounded repeats,
# alternatives that start on different characters), and every one is tested with long
# adversarial strings under a time guard (tests/test_identity_classes.py).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
# a path segment shown as it is: a plain word (camelCase, `graphql.json`, `order-items`, `REST`, `oauth2`),
# a version (`v1`, `V2.1`, `v1beta1`, `2.0`, `3`) or a date (`2024-01`, `2024-01-31`); every
# other segment is masked by a fingerprint
_WORD = re.compile(r"[A-Z]?[a-z]{1,30}(?:[A-Z][a-z]{1,30})*|[A-Z]{1,10}|[a-z]{1,12}[0-9]{1,2}")  # `oauth2`, `t1`
_VERSION = re.compile(r"[vV]\d{1,4}(?:\.\d{1,4}){0,3}(?:(?:alpha|beta|rc)\d{0,3})?|\d{1,3}|\d{1,4}(?:\.\d{1,4}){1,3}")
_DATE = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")
# after a word that names a secret (`key`, `token`, `bot`, ...) the next segment is one, whatever
# it looks like; after a webhook's path word (`hooks`, `services`, ...) ids and tokens follow: from
# there on only a short lower-case word (`services/data`, `hooks/catch`), a version or a date is
# shown, and once one segment is masked every segment after it is too
# a word names a secret when, lower case and without `-` and `_`, it ends in one of these
# (`key`, `api_key`, `accessKey`, `client_secret`, `api-token`, `sessionid`): over-masking a
# `monkey/` path only hides a word, never merges or splits an endpoint
_SECRET_ENDINGS = ("key", "keys", "token", "tokens", "secret", "secrets", "sig", "signature", "password", "passwd",
                   "pass", "pwd", "auth", "bearer", "sessionid", "credential", "credentials")
_SECRET_NEXT = frozenset({"bot", "catch"})  # Telegram's bot<token>; Zapier's hooks/catch/<id>/<token>
_SECRET_AFTER = _SECRET_NEXT | {"hook", "hooks", "webhook", "webhooks", "webhookb2", "services", "trigger"}


def _names_secret(segment: str) -> bool:
    """Whether a path segment is a word after which a secret follows (`token/<it>`)."""
    word = segment.lower().replace("-", "").replace("_", "")
    return word in _SECRET_NEXT or word.endswith(_SECRET_ENDINGS)
_SHORT_WORD = re.compile(r"[A-Z]?[a-z]{1,16}")
# a whole segment that is a reference to a field (`{{connection.settings.store}}`), not a value
_TEMPLATE_SEGMENT = re.compile(r"\{\{\{?\s*[A-Za-z0-9_.]{1,200}\s*\}?\}\}")
_SEPARATORS = re.compile(r"[-_.~]")


def _percent_normal(text: str) -> str:
    """RFC 3986 6.2.2: percent-encoded unreserved characters decoded (`%76%31` is `v1`), the
    hex digits of the others in upper case (`%2f` is `%2F`)."""
    if "%" not in text:
        return text

    def one(match: re.Match) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _PERCENT.sub(one, text)


def _basic_credentials(segment: str) -> bool:
    """A base64 `user:password` (what an HTTP Basic header carries)."""
    if len(segment) < 8 or len(segment) > 1000:
        return False
    try:
        decoded = base64.b64decode(segment + "=" * (-len(segment) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return ":" in decoded.decode("latin-1") and all(32 <= b < 127 for b in decoded)


def _plain(segment: str, strict: bool) -> bool:
    """A segment that can be shown: a plain word, a version, a date or a field reference;
    `strict` (after a segment a secret follows): only a short word, a version or a date."""
    if not segment or _VERSION.fullmatch(segment) or _DATE.fullmatch(segment):
        return True
    if strict:
        return bool(_SHORT_WORD.fullmatch(segment))
    if len(segment) > 64:
        return False
    if _TEMPLATE_SEGMENT.fullmatch(segment):
        return True
    pieces = [p for p in _SEPARATORS.split(segment) if p]
    return (bool(pieces) and all(_WORD.fullmatch(p) for p in pieces) and not _basic_credentials(segment)
            and not looks_secret(segment))


def _clean_path(path: str) -> str:
    """A URI path as a key shows it, normalised as RFC 3986 says (percent-encoding, dot
    segments), matrix parameters (`;jsessionid=...`) dropped, and every segment that is not a
    plain word, a version or a date masked: a run of such segments is one fingerprint of them
    (so two connections to the same URI still key as one); no trailing slash."""
    segments = [_percent_normal(seg.split(";", 1)[0]) for seg in path.split("/")[1:]]
    kept: list[str] = []
    for seg in segments:  # RFC 3986 5.2.4, remove_dot_segments
        if seg == "..":
            if kept:
                kept.pop()
        elif seg != ".":
            kept.append(seg)
    shown: list[str] = []
    masked: list[str] = []
    strict = secret_next = tail = False
    for seg in kept:
        if not (secret_next or tail) and _plain(seg, strict):
            if masked:
                shown.append(f"…{fingerprint('/'.join(masked))}")
                masked = []
            shown.append(seg)
        else:
            masked.append(seg)
            tail = strict
        secret_next = _names_secret(seg) and not secret_next
        strict = strict or _names_secret(seg) or seg.lower() in _SECRET_AFTER
    if masked:
        shown.append(f"…{fingerprint('/'.join(masked))}")
    return ("/" + "/".join(shown)).rstrip("/") if shown else ""


# a DNS name (after IDNA, in ASCII) or an IPv4 address
_HOST = re.compile(r"[a-z0-9_~-]{1,63}(?:\.[a-z0-9_~-]{1,63}){0,126}")


def normal_host(host: str) -> str | None:
    """A host as the resolver reads it: IPv6 literals in their compressed form (in brackets),
    names NFKC-normalised (full-width letters and dots), lower case, in IDNA's ASCII form
    (`bücher.example` is `xn--bcher-kva.example`), without the root's trailing dot; None when it
    is none of these."""
    if not host:
        return None
    if ":" in host:  # an IPv6 literal (the URL parser took its brackets off); a zone (`%eth0`) is no server's
        if "%" in host:
            return None
        try:
            return f"[{ipaddress.IPv6Address(host.strip('[]')).compressed}]"
        except ValueError:
            return None
    name = unicodedata.normalize("NFKC", _percent_normal(host)).lower()
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
    if name.endswith("."):
        name = name[:-1]
    return name if _HOST.fullmatch(name) else None


def _slashed_userinfo(text: str) -> str:
    """`scheme://user:12/pw@host/v1` (a `/` in the password, which the URL parser takes for the
    path) as `scheme://host/v1`: when the authority holds no `@` but the path does, the user info
    runs to the last `@` before the query (`svc.user:2024/pw@host` too, whose name has a dot).
    Where that `@` follows more than one segment and the authority reads as a host with a port
    (`api.example.com:8443/users/bob@example.com`, or a password holding two `/`), it could be
    either: ValueError, so that neither a name nor a password reaches a key."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    end = min([i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0], default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority or ":" not in authority or authority.startswith("["):
        return text
    stop = min([i for i in (tail.find("?"), tail.find("#")) if i >= 0], default=len(tail))
    at = tail.rfind("@", 0, stop)
    if at < 0:
        return text
    name, _, port = authority.rpartition(":")
    if port.isdigit() and ("." in name or name.lower() == "localhost") and "/" in tail[1:at]:
        # a host with a port, or user info whose name has a dot and whose password starts with
        # digits and holds a `/` more: which one cannot be told, and reading the first would show
        # a name and a password in the key, so neither is read (the caller keys it unreadable)
        raise ValueError("user info or a path with an address: ambiguous")
    return f"{scheme}://{tail[at + 1:]}"


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
    """(key form, host, readable) of a base URI, normalised as the remote resolves it: scheme
    and host lower case, the host's IDNA form without a trailing dot, IPv6 in its compressed
    form, default port dropped, user info (even with a `/` in the password), query, fragment and
    matrix parameters dropped, the path normalised (percent-encoding, dot segments) and every
    segment that is not a plain word, a version or a date masked, no trailing slash. A host with
    handlebars is kept as written (never its user info); a URI that cannot be parsed (a bad
    port, a broken bracket) is keyed by its fingerprint alone: its raw text could carry a
    password."""
    text = raw.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        text = _slashed_userinfo(text)
        parts = urlsplit(text)
        port = parts.port
        netloc = parts.netloc.rsplit("@", 1)[-1]
    except ValueError:
        return f"unreadable{fingerprint(raw)}", None, False
    # spaces inside handlebars (`{{ connection.settings.host }}`) are the template's, not the URI's
    outside = _HANDLEBARS.sub("x", text) if "{{" in text else text
    if any(c.isspace() or ord(c) < 32 or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in outside):
        return f"unreadable{fingerprint(raw)}", None, False
    scheme = parts.scheme.lower()
    if "{{" in netloc:  # as written: the host is itself a template, which must read as a host once filled
        filled = _HANDLEBARS.sub("x", netloc.rsplit(":", 1)[0] if port else netloc)
        host = (parts.hostname or "").lower()
        if normal_host(filled) is None:
            return f"unreadable{fingerprint(raw)}", None, False
    else:
        host = normal_host(parts.hostname or "")
        if host is None:
            return f"unreadable{fingerprint(raw)}", None, False
        netloc = host + (f":{port}" if port and port != DEFAULT_PORTS.get(scheme) else "")
    return f"{scheme}://{netloc}{_clean_path(parts.path)}", host or None, True


def _host_port(raw: str, default_scheme: str) -> tuple[str | None, int | None]:
    """(host, port) of a host name or URI, user info dropped, the host normalised as
    `normal_host` says; (None, None) when it cannot be parsed or the host is not a plain name
    or address (never the raw text)."""
    text = raw.strip()
    if "://" not in text:
        try:  # a bare IPv6 address (`2001:db8::2`), which a URL must bracket
            text = f"[{ipaddress.IPv6Address(text)}]"
        except ValueError:
            pass
        text = f"{default_scheme}://{text}"
    try:
        parts = urlsplit(_slashed_userinfo(text))
        host, port = normal_host(parts.hostname or ""), parts.port
    except ValueError:
        return None, None
    if any(c.isspace() or ord(c) < 32 for c in text):
        return None, None
    return (host, port) if host is not None else (None, None)


def _db_host(raw: str) -> tuple[str, int | None]:
    """(host, port written in the host) of a database or MongoDB host, any scheme and user info
    (`root:SECRET@`) dropped; a fingerprint when it is not a plain host."""
    host, port = _host_port(raw, "db")
    if host is None:  # user info the URL parser trips on: what follows the last @, up to a path
        host, port = _host_port(raw.rsplit("@", 1)[-1].split("/", 1)[0], "db")
    if host is None:
        return f"unreadable{fingerprint(raw)}", None
    return host, port


def clean_host(raw: str) -> str:
    """A database or MongoDB host as keys show it: `host[:port]`, normalised as `normal_host`
    says, any scheme and user info (`root:SECRET@`) dropped; a fingerprint when it is not a
    plain host."""
    host, port = _db_host(raw)
    return host + (f":{port}" if port else "")


# What each identity field that becomes part of a key can hold; anything else (a `:`, `=`, `,`,
# `/`, a control character, or more than the field's length) is keyed by a fingerprint and
# flagged unresolved: an ODBC-style `orders,user=sa,password=...` database name, an AS2 partner
# id with a `:` or a connector id that is not one carry secrets, not identity.
ID_SHAPES = {
    "type": r"[a-z0-9_.-]{1,64}",
    "assistant": r"[a-z0-9_.-]{1,100}",
    "http_connector": r"[0-9a-fA-F]{24}",  # an integrator.io _id
    # after `normal_netsuite_account`: an account id, and a sandbox's or release preview's suffix
    # (`1234567 SECRET` read as `1234567_SECRET` is no account)
    "netsuite_account": r"[A-Z0-9]{1,30}(?:_(?:SB\d{0,3}|RP))?",
    "salesforce_org": r"[A-Za-z0-9]{1,18}",  # 15 or 18 characters in real orgs
    "as2_partner": r"[\w .@&()+-]{1,128}",  # RFC 4130 allows more; `:` `=` `,` `/` `;` carry secrets
    "db_type": r"[a-z0-9_]{1,32}",
    "db_database": r"[\w$ .-]{1,128}",
    "db_project": r"(?:[A-Za-z0-9.-]{1,63}:)?[A-Za-z0-9-]{1,63}",  # domain-scoped `example.com:project`
    "db_cluster": r"[A-Za-z0-9-]{1,63}",
    "db_region": r"[a-z0-9-]{1,32}",
    "mongo_database": r"[\w-]{1,64}",
    "stack_id": r"[\w.-]{1,128}",
    "agent_id": r"[\w.-]{1,128}",
    "van_mailbox": r"[\w .@-]{1,128}",
}
_ID_SHAPES = {column: re.compile(shape) for column, shape in ID_SHAPES.items()}
UNREADABLE = "unreadable#"


# a word of a value that says a secret follows it (`orders password SECRET`: a field that allows
# spaces, a database name or an AS2 partner id, can carry one that way)
_SECRET_WORD = re.compile(r"(?i)(?<![a-z0-9])(?:password|passwd|pwd|secret|token|apikey|api_key|credentials?)"
                          r"(?![a-z0-9])")


def clean_field(column: str, raw: str) -> str:
    """An identity field's value as a key shows it: as it is when it reads as what the field
    can hold (ID_SHAPES) and names no secret, else `unreadable#<fingerprint>`."""
    text = raw.strip()
    if not text or _ID_SHAPES[column].fullmatch(text) and not _SECRET_WORD.search(text):
        return text
    return f"unreadable{fingerprint(raw)}"


_NETSUITE_HOST = re.compile(r"([A-Za-z0-9_-]{1,40})\.(?:app|suitetalk|restlets|extforms)\.(?:api\.)?netsuite\.com")
SANDBOX_SUFFIX = r"_(?:SB\d*|RP)$"  # NetSuite sandboxes and release previews (auditor.netsuite.records reads it too)


def normal_netsuite_account(raw: str) -> str:
    """A NetSuite account id as the API writes it: upper case, `_` where NetSuite's own host
    names write `-` (`1234567-sb1` is the sandbox `1234567_SB1`, `1234567-rp` the release
    preview `1234567_RP`); the account of a NetSuite host name (`1234567-sb1.app.netsuite.com`)
    is read from it."""
    text = raw.strip()
    if "netsuite.com" in text.lower():
        host, _ = _host_port(text, "https")
        match = _NETSUITE_HOST.fullmatch(host or "")
        if match:
            text = match.group(1)
    return re.sub(r"[-\s]+", "_", text).upper()


# {{connection.settings.storeName}}, {{{connection.http.unencrypted.instanceurl}}}: a field of the
# connection itself. Only fields that hold no secret are read: its settings and the unencrypted
# part of its http or rest block (never `encrypted`, `auth`, tokens). Linear: one repeat, of a
# class that stops at the next brace (`{{` and thousands of spaces took cubic time with the
# spaces matched by three repeats in turn).
_HANDLEBARS = re.compile(r"\{\{\{?([^{}]*)\}?\}\}")
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
        path = match.group(1).strip()
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


# other names of one database type
DB_ALIASES = {"postgres": "postgresql", "sqlserver": "mssql"}
MONGO_PORT = 27017


def _mongo_host(raw: str) -> str:
    """A MongoDB host as keys show it: normalised, without the default port (so that
    `db.example.com` and `db.example.com:27017` are one)."""
    host, port = _db_host(raw)
    return host + (f":{port}" if port and port != MONGO_PORT else "")


def _mongo_hosts(raw: str) -> str:
    """MongoDB's comma-separated hosts as keys show them, sorted; the user info goes first, since
    a password may hold a `,` (`mongodb://admin:12,pw@h1.example.com`) that would split it into a
    host of its own."""
    scheme, sep, rest = raw.strip().partition("://")
    rest = (rest if sep else scheme).rsplit("@", 1)[-1]
    return ",".join(sorted({_mongo_host(h) for h in rest.split(",")}))


_ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_org(raw: str) -> str:
    """A Salesforce id in its 15-character form: the 18-character form is the same id with three
    characters that encode the case of the first 15 (so both spellings of one org key as one);
    an 18-character value whose last three do not match is left as it is."""
    text = raw.strip()
    if len(text) != 18 or not text.isascii() or not text.isalnum():
        return text
    suffix = "".join(_ID_SUFFIX[sum(1 << i for i, c in enumerate(text[chunk:chunk + 5]) if c.isupper())]
                     for chunk in (0, 5, 10))
    return text[:15] if suffix == text[15:].upper() else text


def identities(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per connection with the identity columns a policy keys on. Every value read from
    a connection block goes through a sanitiser (URIs, hosts, ids) before it can become a key."""
    df = con.execute(_IDENTITY_SQL.format(problem=_identity_problem_sql(), uri_raw=_URI_RAW)).df()
    bad = df["identity_problem"].notna()
    if bad.any():
        df.loc[bad, RAW_IDENTITY] = None
        df.loc[bad, "trading_partner"] = False
    df["netsuite_account"] = _map_distinct(df["netsuite_account"], normal_netsuite_account)
    df["db_type"] = df["db_type"].replace(DB_ALIASES)
    df["salesforce_org"] = _map_distinct(df["salesforce_org"], salesforce_org)
    for col in ID_COLUMNS:
        df[col] = _map_distinct(df[col], lambda v, col=col: clean_field(col, v))
    # a database host with its port (`db.example.com:3306`) beside `port: 3306` is one server: the
    # host's port stands for a port not given, and the key holds it once; a host's port that
    # differs from the port given stays in the host (which of the two is used is not known)
    host = _per_distinct(df["db_host"], _db_host, ["host", "port"])
    given = pd.to_numeric(df["db_port"].astype("string").str.strip(), errors="coerce")
    in_host = pd.to_numeric(host["port"], errors="coerce")
    differs = in_host.notna() & given.notna() & (in_host != given)
    df["db_host"] = host["host"]
    if differs.any():
        df.loc[differs, "db_host"] = [f"{h}:{int(p)}" for h, p in zip(host.loc[differs, "host"], in_host[differs])]
    df["db_port"] = given.fillna(in_host).astype("Int64").astype("string").astype(object).where(lambda c: c.notna(), None)
    df["mongo_hosts"] = _map_distinct(df["mongo_hosts"], _mongo_hosts)
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
        df["netsuite_account"].str.contains(SANDBOX_SUFFIX, regex=True, na=False)
        | df["netsuite_environment"].isin(["sandbox", "sandbox2.0", "beta"])
    )
    df["aws_key"] = _map_distinct(df["aws_key_raw"], mask_key)
    default_db_port = df["db_type"].map(DB_PORTS)
    df["db_port"] = df["db_port"].fillna(default_db_port.astype("Int64").astype("string")).astype(object)
    # trading partners are tallied by server and port: FTP host, else the AS2 URL's, else the partner id
    as2 = _per_distinct(df["as2_uri"], lambda v: _host_port(v, "https"), ["host", "port"])
    df["tp_host"] = df["ftp_host"].where(is_ftp, as2["host"]).fillna(df["as2_partner"])
    as2_port = pd.to_numeric(as2["port"], errors="coerce").astype("Int64").astype("string")
    df["tp_port"] = df["ftp_port"].where(is_ftp, as2_port).fillna("default")
    df["known_type"] = df["type"].isin(CONNECTION_TYPES)
    return df.drop(columns=["uri_raw", "uri_context", "salesforce_uri", "ftp_host_raw", "ftp_port_raw", "ftp_type",
                            "as2_uri", "aws_key_raw", "http_connector", "netsuite_environment"])


def _flag_masked(out: pd.DataFrame, rows: pd.Index, fields) -> None:
    """Connections keyed on a field whose value does not read as what the field holds (keyed by
    its fingerprint): flagged unresolved, and the explanation says which field."""
    for field in fields:
        if field not in out.columns:
            continue
        hit = out.loc[rows, field].astype("string").str.contains(UNREADABLE, regex=False, na=False)
        hit = hit[hit].index
        if len(hit):
            out.loc[hit, "resolved"] = False
            out.loc[hit, "explain"] = (out.loc[hit, "explain"] + f"; its {field} does not read as one (a character "
                                       "or a length the field cannot hold), so it is keyed by a fingerprint of it, "
                                       "which never shows it")


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
        _flag_masked(out, rows, template_fields(rule.key))
    if ordinary.any():
        out.loc[ordinary, "explain"] = (out.loc[ordinary, "explain"] + "; a trading-partner connection, but the "
                                        "trading-partner exemption exists on the endpoint plan only, so it is an "
                                        "ordinary endpoint here (help center 360060126192)")
    return out


# one row per endpoint (or trading partner) of each environment, from `usage` (auditor.count.flows)
# and `conn_keys`, with its member lists ($role: endpoint or trading-partner); each list is made from its own
# distinct rows (DISTINCT aggregates over all of `usage` cost more)
ENDPOINTS_SQL = """
WITH reach AS (
  SELECT u.account_no, u.environment, k.key, u.flow_id, u.reacher
  FROM usage u JOIN conn_keys k ON k.account_no = u.account_no AND k.scope = u.scope AND k.id = u.connection_id
  WHERE k.role = $role),
members AS (
  SELECT u.account_no, u.environment, k.key,
         arg_min(k.endpoint_application, struct_pack(generic := k.endpoint_application = k.type, id := k.id)) AS application,
         min(k.category) AS category, bool_and(k.resolved) AS resolved, min(k.explain) AS explain,
         list(DISTINCT u.connection_id ORDER BY u.connection_id) AS connections,
         count(DISTINCT u.connection_id) AS connection_count
  FROM (SELECT DISTINCT account_no, scope, environment, connection_id FROM usage) u
  JOIN conn_keys k ON k.account_no = u.account_no AND k.scope = u.scope AND k.id = u.connection_id
  WHERE k.role = $role
  GROUP BY ALL),
flows AS (
  SELECT account_no, environment, key, list(flow_id ORDER BY flow_id) AS flows, count(*) AS flow_count
  FROM (SELECT DISTINCT account_no, environment, key, flow_id FROM reach WHERE flow_id IS NOT NULL)
  GROUP BY ALL),
reachers AS (
  SELECT account_no, environment, key, list(reacher ORDER BY reacher) AS reached_by
  FROM (SELECT DISTINCT account_no, environment, key, reacher FROM reach WHERE reacher IS NOT NULL)
  GROUP BY ALL)
SELECT m.account_no, m.environment, m.key, m.application, m.category, m.resolved, m.explain, m.connections,
       coalesce(f.flows, []) AS flows, coalesce(r.reached_by, []) AS reached_by, m.connection_count,
       coalesce(f.flow_count, 0) AS flow_count
FROM members m LEFT JOIN flows f USING (account_no, environment, key)
LEFT JOIN reachers r USING (account_no, environment, key)
"""
