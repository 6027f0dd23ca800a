"""The audit log of a snapshot (`audit.json`, what `GET /v1/audit` returns), as the results keep it.

Each entry says who (`byUser`), when (`time`), from where (`source`), which resource
(`resourceType`, `_resourceId`), what (`event`) and, for an update, one field from what to what
(`fieldChange {fieldPath, oldValue, newValue}`). Every field is optional and every value untrusted:
the entries are read by `auditor.load.tables` like any resource file (a broken entry is skipped
and said in load_issues), and here each is made what the results file keeps: the resource's name
and environment from the snapshot (or "no longer exists"), and the field's old and new values
masked. A value is shown only when it is a number, a true or false, a plain short word or id,
or a URL's scheme and host; a field that names a secret (password, token, key, ...) is shown as
masked, an object or a list only as what it is, and any other text by a fingerprint that tells
two values apart without showing either.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import orjson
import pandas as pd

from auditor.common.secrets import secret_field
from auditor.load.snapshot import Snapshot

MASK = "******"
# the snapshot's resources an entry's resourceType names (the table each is read into)
TABLES = {"flow": "flows", "connection": "connections", "export": "exports", "import": "imports",
          "integration": "integrations", "api": "apis", "tool": "tools", "sync": "syncs"}
COLUMNS = ["account_no", "environment", "id", "time", "day", "user", "email", "source", "resource_type",
           "resource_id", "resource_name", "exists", "event", "field", "old", "new"]
# a field path segment naming a secret (as auditor.pull masks a connection's fields before writing)
# a value that names a secret inside it ("orders password ...")
_SECRET_WORD = re.compile(r"(?i)(password|passwd|pwd|secret|token|apikey|api_key|bearer|credential)")
_PLAIN = re.compile(r"[\w .,@()+&'#-]{0,80}")
_OBJECT_ID = re.compile(r"[0-9a-f]{24}")
_SEGMENT = re.compile(r"[A-Za-z][a-z]{0,20}(?:[-_][a-z]{1,20}){0,3}|[vV]?\d{1,4}(?:[.-]\d{1,4}){0,2}")
_HOST = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63}){0,126}")
# an event as the attribution reads it, however the log words it ("Update", "created", "removed")
EVENTS = {"create": "create", "created": "create", "add": "create", "added": "create", "insert": "create",
          "update": "update", "updated": "update", "patch": "update", "edit": "update", "modify": "update",
          "delete": "delete", "deleted": "delete", "remove": "delete", "removed": "delete"}
LONGEST = 200
_UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?Z)?")  # names, fields and user names are cut here (the rest is said by an ellipsis)


def fingerprint(raw: str) -> str:
    """What stands for a value not shown: the same value the same mark, nothing of it readable."""
    return "#" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def _random(text: str) -> bool:
    """Text that looks like a key or a token: long, mixed and random-looking."""
    if len(text) < 16 or " " in text:
        return False
    counts = Counter(text)
    entropy = -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())
    classes = sum(bool(re.search(p, text)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes >= 2 and entropy >= 3.5


def _url(text: str) -> str | None:
    """A URL as shown: its scheme and host (and port), the rest by a fingerprint; user info never."""
    try:
        parts = urlsplit(text)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None
    if not parts.scheme or not _HOST.fullmatch(host) or not re.fullmatch(r"[a-z][a-z0-9+.-]{0,15}", parts.scheme):
        return None
    rest = text.split(parts.netloc, 1)[-1] if parts.netloc else ""
    shown = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")
    segments = [seg for seg in parts.path.split("/") if seg]
    if not (parts.query or parts.fragment) and len(segments) <= 12 and all(_SEGMENT.fullmatch(seg) and not _SECRET_WORD.search(seg)
                                                   for seg in segments):
        return shown + "".join(f"/{seg}" for seg in segments)  # plain words and versions: /admin/api/2024-01
    return shown + (f"/…{fingerprint(rest)}" if rest.strip("/") else "")


def shown_value(value, secret: bool) -> str | None:
    """A field's old or new value as the results keep it (None: not given); `secret`: the field
    holds a secret, or cannot be read (common.secrets.secret_field)."""
    if value is None:
        return None
    if secret:
        return MASK if value not in ("", [], {}) else "(empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return f"(an object of {len(value)} field{'s' if len(value) != 1 else ''}, not shown)"
    if isinstance(value, list):
        return f"(a list of {len(value)}, not shown)"
    if not isinstance(value, str):
        return "(not shown)"
    if value == "":
        return "(empty)"
    if "://" in value:
        url = _url(value.strip())
        return url if url is not None else f"(a value, not shown {fingerprint(value)})"
    if _OBJECT_ID.fullmatch(value):  # an integrator.io id (`_connectionId` from c1 to c2) is no secret
        return value
    if _PLAIN.fullmatch(value) and not _SECRET_WORD.search(value) and not _random(value):
        return value
    return f"(a value, not shown {fingerprint(value)})"


def _text(value, longest: int = LONGEST) -> str | None:
    """A string field of an entry as kept: cut to `longest`; anything but a string is none."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value if len(value) <= longest else value[:longest] + "…"


def _day(time: str | None) -> str | None:
    """The UTC day of an entry's time (ISO 8601), or None when it is none."""
    if not time:
        return None
    if _UTC_TIME.fullmatch(time):  # the usual form, in UTC: its first ten characters, if a day
        try:
            return date.fromisoformat(time[:10]).isoformat()
        except ValueError:
            return None
    try:
        stamp = datetime.fromisoformat(time.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
    return f"{stamp:%Y-%m-%d}"


def _event(event: str | None) -> str | None:
    word = (event or "").strip().lower()
    return EVENTS.get(word) or _text(word, 40)


def _object(text) -> dict:
    if not isinstance(text, str):
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def has_log(snap: Snapshot) -> bool:
    """Whether the snapshot holds an audit log (audit.json, pages, ...; an empty one too)."""
    return any(src.files.get("audit") for src in snap.sources)


def read(con, snapshots: list[Snapshot]) -> tuple[pd.DataFrame, list[dict]]:
    """The audit-log entries of every snapshot (from the `audit` table `ingest` made, before the
    other tables are cut down), with their resources looked up, values masked; and the notes on
    entries kept that cannot be placed in time (account_no, file, record, id, problem, action)."""
    if not any(has_log(s) for s in snapshots):
        return pd.DataFrame(columns=COLUMNS), []
    known = " UNION ALL ".join(
        f"SELECT '{kind}' AS kind, account_no, scope, id, name, sandbox FROM {table}" for kind, table in TABLES.items())
    resources = {}
    for kind, no, scope, rid, name, sandbox in con.execute(known).fetchall():
        env = scope if scope != "*" else ("sandbox" if sandbox else "production")
        resources.setdefault((kind, no, rid), []).append((scope, env, name))
    rows, notes = [], []
    cur = con.execute('SELECT account_no, scope, file, record, id, "time", source, "resourceType", "_resourceId", '
                      'event, "byUser", "fieldChange" FROM audit ORDER BY account_no, file_no, record')
    for no, scope, file, record, eid, time, source, rtype, rid, event, by, change in cur.fetchall():
        by, change = _object(by), _object(change)
        kind = (rtype or "").strip().lower()
        kind = kind[:-1] if kind.endswith("s") and kind[:-1] in TABLES else kind
        found = [r for r in resources.get((kind, no, rid), []) if scope == "*" or r[0] == scope]
        env = found[0][1] if found else (scope if scope != "*" else None)
        field = _text(change.get("fieldPath"))  # as shown: cut to LONGEST
        secret = secret_field(change.get("fieldPath"))  # judged on the whole path
        day = _day(time)
        if day is None:
            notes.append({"account_no": no, "file": file, "record": record, "id": eid, "action": "counted",
                          "problem": "audit-log entry has no time that can be read (ISO 8601); it is kept, but "
                                     "no change between two audits can be tied to it"})
        rows.append({
            "account_no": no, "environment": env, "id": eid, "time": _text(time, 40), "day": day,
            "user": _text(by.get("name")) or _text(by.get("_id")), "email": _text(by.get("email")),
            "source": _text(source, 40), "resource_type": _text(kind, 40), "resource_id": _text(rid),
            "resource_name": found[0][2] if found else None,
            "exists": bool(found) if kind in TABLES else None,
            "event": _event(event), "field": field,
            "old": shown_value(change.get("oldValue"), secret) if "oldValue" in change else None,
            "new": shown_value(change.get("newValue"), secret) if "newValue" in change else None,
        })
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values(["account_no", "day", "time", "id"], na_position="first", kind="stable"), notes
