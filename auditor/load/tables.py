"""Read every snapshot's resource files into DuckDB tables, checking each record column-wise.

Only the fields the audit needs are declared and read (so a late-appearing key is never lost to
type sampling, and nothing else of a record, credentials included, is kept outside the
connection blocks the endpoint keys are computed from). Every record read ends up either in a
clean table or in `load_issues` with the reason it was skipped.

DuckDB's own error texts can quote record content; they never reach the user. A file DuckDB
cannot parse is diagnosed again here to name the position without quoting anything.
"""

from __future__ import annotations

import gzip
import mmap
import os
import tempfile
import zlib
from pathlib import Path

import duckdb
import orjson
import pandas as pd
import simdjson

from auditor.common.errors import InputError
from auditor.load.snapshot import RESOURCES, ResourceFile, Snapshot

# What each resource must look like: field -> JSON type. Every field is optional but `_id`.
CONNECTION_BLOCKS = (
    "netsuite", "salesforce", "http", "rest", "ftp", "as2", "rdbms", "jdbc",
    "mongodb", "s3", "dynamodb", "wrapper", "van", "mcp",
)
CONNECTION_TYPES = (
    "netsuite", "salesforce", "http", "rest", "ftp", "s3", "rdbms", "jdbc", "mongodb",
    "dynamodb", "as2", "van", "wrapper", "filesystem", "mcp",
)
# fields read only to fill a base URI's handlebars (settings), or only for the connections an AI
# agent, a guardrail or a tool call reaches (aiAgent, guardrail, tool), or only to prefer flows
# idle lately in advice (lastExecutedAt): any other shape is ignored, never a problem
LENIENT = {"settings", "aiAgent", "guardrail", "tool", "lastExecutedAt"}
# records worth a note (with their position) although they are counted
SPECS: dict[str, dict[str, str]] = {
    "flows": {
        "_id": "string", "name": "string", "disabled": "boolean", "free": "boolean",
        "sandbox": "boolean", "_integrationId": "string", "_connectorId": "string",
        "pageGenerators": "array", "pageProcessors": "array", "routers": "array",
        "_exportId": "string", "_importId": "string",
        "_abstractFlowId": "string", "isAbstract": "boolean", "overrides": "object", "overridesHelper": "object",
        "lastExecutedAt": "string",
    },
    "exports": {
        "_id": "string", "name": "string", "adaptorType": "string", "type": "string",
        "_connectionId": "string", "sandbox": "boolean",
    },
    "imports": {
        "_id": "string", "name": "string", "adaptorType": "string", "_connectionId": "string",
        "sandbox": "boolean", "aiAgent": "object", "guardrail": "object", "tool": "object",
    },
    "integrations": {
        "_id": "string", "name": "string", "_connectorId": "string", "sandbox": "boolean",
        "mode": "string",
    },
    # steps under builder.routers[] (a builder API) or routers[] (a tool); a sync's two ends
    "apis": {"_id": "string", "name": "string", "_integrationId": "string", "sandbox": "boolean",
             "disabled": "boolean", "builder": "object"},
    "tools": {"_id": "string", "name": "string", "_integrationId": "string", "sandbox": "boolean",
              "disabled": "boolean", "routers": "array"},
    "syncs": {"_id": "string", "name": "string", "_integrationId": "string", "sandbox": "boolean",
              "disabled": "boolean", "source": "object", "destination": "object"},
    # flow jobs: which flow ran, and when (startedAt, else createdAt)
    "jobs": {"_id": "string", "type": "string", "_flowId": "string", "startedAt": "string", "createdAt": "string"},
    # audit-log entries (auditor.load.auditlog reads them): who changed which resource, when, how;
    # byUser and fieldChange are read whole (their values may be anything: masked before shown)
    "audit": {"_id": "string", "time": "string", "source": "string", "resourceType": "string",
              "_resourceId": "string", "event": "string", "byUser": "object", "fieldChange": "object"},
    "connections": {
        "_id": "string", "name": "string", "type": "string", "sandbox": "boolean",
        "assistant": "string", "_connectorId": "string", "_integrationId": "string",
        "_agentId": "string", "offline": "boolean", "settings": "object",
        **{block: "object" for block in CONNECTION_BLOCKS},
    },
}
# a record of each resource as messages name it ("flow has no _id"); by default the resource less its s
ONE = {"audit": "audit-log entry"}


def _one(resource: str) -> str:
    return ONE.get(resource, resource[:-1])


# A JSON value's type, from its first character: DuckDB hands values over minified, and
# json_type() would parse each one again (whole step arrays, several times per record).
FIRST = {"string": ('"',), "boolean": ("t", "f"), "array": ("[",), "object": ("{",)}
TYPE_WORDS = (
    "CASE left({c}, 1) WHEN '\"' THEN 'a string' WHEN 't' THEN 'a boolean' WHEN 'f' THEN 'a boolean' "
    "WHEN '[' THEN 'an array' WHEN '{{' THEN 'an object' ELSE 'a number' END"
)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _problem_sql(spec: dict[str, str]) -> str:
    """One SQL expression giving the first problem of a record, or NULL when it is sound.

    A key given twice in a record (or in a connection block) is refused: integrator.io keeps the
    last value, the JSON reader the first, and a record read differently from the vendor's is
    worse than one listed as skipped. `_dup` is that key (exact reads only: the fast read fails
    on such a record and the caller reads again exactly)."""
    cases = [
        "WHEN _rtype IS DISTINCT FROM 'OBJECT' THEN 'is not a JSON object'",
        "WHEN _dup IS NOT NULL THEN 'has the key ' || _dup || ' twice (integrator.io would read the last one)'",
        "WHEN _id IS NULL OR left(_id, 1) = 'n' THEN 'has no _id'",
    ]
    for col, kind in spec.items():
        if col in LENIENT:
            continue
        allowed = ", ".join(f"'{t}'" for t in FIRST[kind] + ("n",))
        word = {"string": "a string", "boolean": "true or false", "array": "an array", "object": "an object"}[kind]
        cases.append(
            f"WHEN {_q(col)} IS NOT NULL AND left({_q(col)}, 1) NOT IN ({allowed}) "
            f"THEN '{col} must be {word}, not ' || {TYPE_WORDS.format(c=_q(col))}"
        )
        if kind == "object" and col in CONNECTION_BLOCKS:
            keys = f"json_keys({_q(col)})"
            # only the block of the connection's own type is read, so only it is checked (a rest
            # connection's may be its http block)
            types = "('http', 'rest')" if col == "http" else f"('{col}')"
            cases.append(f"WHEN {_q(col)} IS NOT NULL AND lower(\"type\" ->> '$') IN {types} "
                         f"AND left({_q(col)}, 1) = '{{' AND len({keys}) <> len(list_distinct({keys})) "
                         f"THEN '{col} has the key ' || {_dup_key(_q(col))} || ' twice (integrator.io would read the last one)'")
    return "CASE " + " ".join(cases) + " END"


def _dup_key(json_sql: str, among: tuple[str, ...] = ()) -> str:
    """SQL: a key that a JSON object holds more than once (of `among`, when given), first in
    alphabetical order, else NULL; said only when it is a plain name (a key is data). A list
    expression, not a subquery: DuckDB would join one for every row."""
    keys = f"json_keys({json_sql})"
    only = f"k IN ({', '.join(repr(c) for c in among)}) AND " if among else ""
    dup = f"list_filter(list_sort(list_distinct({keys})), lambda k: {only}len(list_filter({keys}, lambda x: x = k)) > 1)[1]"
    return f"CASE WHEN {dup} IS NULL THEN NULL WHEN regexp_full_match({dup}, '[A-Za-z0-9_]{{1,40}}') THEN {dup} ELSE '(a key)' END"


def _typed(col: str, kind: str) -> str:
    """A declared field as the clean table keeps it: scalars typed, arrays and blocks as JSON.
    TRY_CAST because a record whose field has the wrong type is dropped, but only afterwards."""
    if kind == "string" and col.startswith("_") and col.endswith("Id"):
        return f"nullif(r.{_q(col)} ->> '$', '')"  # a reference given as "" is no reference (a standalone flow)
    if kind == "string":
        return f"r.{_q(col)} ->> '$'"
    if kind == "boolean":
        return f"TRY_CAST(r.{_q(col)} ->> '$' AS BOOLEAN)"
    return f"CASE WHEN left(r.{_q(col)}, 1) <> 'n' THEN r.{_q(col)} END"


def _table_sql(resource: str) -> str:
    """The resource's table: where the record came from, its first problem, its typed fields."""
    spec = SPECS[resource]
    types = {"string": "VARCHAR", "boolean": "BOOLEAN", "array": "JSON", "object": "JSON"}
    cols = ", ".join(f"{_q(c)} {types[k]}" for c, k in spec.items() if c != "_id")
    return (f"CREATE OR REPLACE TEMP TABLE {resource} (account_no INTEGER, source_no INTEGER, scope VARCHAR, "
            f"file_no INTEGER, file VARCHAR, record BIGINT, id VARCHAR, problem VARCHAR, {cols})")


# Files up to this size are packed together into a few big files before DuckDB reads them: its
# cost per file dominated with many small files (5,000 accounts, 25,000 files). Larger files are
# read as they are: packed, each would be one row holding all its records, which costs memory.
PACK_LIMIT = 2**20
PACK_CHUNKS = 4  # a few packed files, so that DuckDB's threads share the work


def _records(resource: str, source: str, exact: bool) -> str:
    """SQL giving (file_no, record, _rtype, declared fields as JSON) from `source`.

    `exact`: every record is read as a JSON value, so a record that is not an object is kept and
    flagged; otherwise the declared fields are read as columns, the fast way, which fails on such
    a record (and the caller tries again exactly)."""
    spec = SPECS[resource]
    if exact:
        fields = ", ".join(f"j -> '$.{c}' AS {_q(c)}" for c in spec)
        dup = f"CASE WHEN json_type(j) = 'OBJECT' THEN {_dup_key('j', tuple(spec))} END"
        return f"SELECT file_no, record, json_type(j) AS _rtype, {dup} AS _dup, {fields} FROM ({source.format(item='j')})"
    fields = ", ".join(f"x.{_q(c)} AS {_q(c)}" for c in spec)
    return f"SELECT file_no, record, 'OBJECT' AS _rtype, NULL AS _dup, {fields} FROM ({source.format(item='x')})"


def _packed_source(resource: str, exact: bool) -> tuple[str, dict]:
    """Packed files hold one JSON array of {"f": file_no, "r": [records of that file]}."""
    struct = "JSON[]" if exact else "STRUCT(" + ", ".join(f"{_q(c)} JSON" for c in SPECS[resource]) + ")[]"
    sql = (
        "SELECT f AS file_no, generate_subscripts(r, 1) - 1 AS record, unnest(r, recursive := false) AS {item} "
        "FROM read_json($paths, format='array', records=true, columns=$columns, "
        f"maximum_object_size={PACK_LIMIT * 2})"
    )
    return sql, {"columns": {"f": "INTEGER", "r": struct}}


def _direct_source(resource: str, fmt: str, exact: bool) -> tuple[str, dict]:
    """Big files read as they are, in one call; a record's position is its row number within its
    file (DuckDB keeps the files' order). `big_files` maps each path to its file number."""
    if exact:
        read = f"SELECT filename, row_number() OVER () AS rn, json AS x FROM read_json_objects($paths, format='{fmt}', filename=true)"
        params: dict = {}
    else:
        cols = ", ".join(_q(c) for c in SPECS[resource])
        read = (f"SELECT filename, row_number() OVER () AS rn, struct_pack({cols}) AS x "
                f"FROM read_json($paths, format='{fmt}', records=true, columns=$columns, filename=true)")
        params = {"columns": {c: "JSON" for c in SPECS[resource]}}
    sql = (f"SELECT b.file_no, r.rn - min(r.rn) OVER (PARTITION BY r.filename) AS record, r.x AS {{item}} "
           f"FROM ({read}) r JOIN big_files b ON b.path = r.filename")
    return sql, params


def _insert(con, resource: str, files: list[tuple[ResourceFile, str]], make_source) -> None:
    """Insert the records of `files` ((file, path DuckDB reads)) into the resource's table,
    typed, with their first problem; a file DuckDB cannot read is diagnosed and named."""
    spec = SPECS[resource]
    typed = ", ".join(_typed(c, k) for c, k in spec.items() if c != "_id")
    for exact in (False, True):
        source, params = make_source(exact)
        sql = f"""
            INSERT INTO {resource}
            SELECT f.account_no, f.source_no, f.scope, f.file_no, f.display, r.record,
                   CASE WHEN left(r._id, 1) = '"' THEN r._id ->> '$' END,
                   {_problem_sql(spec)}, {typed}
            FROM ({_records(resource, source, exact)}) r JOIN files f ON f.file_no = r.file_no
        """
        try:
            con.execute(sql, {"paths": sorted({p for _, p in files}), **params})
            return
        except duckdb.Error as exc:
            if isinstance(exc, duckdb.InvalidInputException) and "transform error" in str(exc) and not exact:
                continue  # a record is not an object: read these files record by record
            for f, _ in files:
                _diagnose(f)
            raise InputError(files[0][0].display, "could not be read as JSON") from None


def _pack(chunk: list[tuple[int, ResourceFile]], path: Path, empty: list[int]) -> None:
    """Write the records of many small files into one file, tagged with their file numbers:
    raw bytes joined after each file is checked to be strict JSON on its own (a file joined
    unchecked could close the packing early, `[...],"x":0`, and be read as sound). The numbers
    of files that hold nothing go to `empty`."""
    with open(path, "wb") as out:
        out.write(b"[")
        first = True
        for file_no, f in chunk:
            data = read_bytes(f)
            if not data.strip():
                empty.append(file_no)
                continue
            strict(f, data)
            if f.format == "newline_delimited":
                data = b"[" + b",".join(line for line in data.splitlines() if line.strip()) + b"]"
            elif f.format == "object":  # a download's file: one record
                data = b"[" + data + b"]"
            out.write(b'{"f":%d,"r":' % file_no if first else b',{"f":%d,"r":' % file_no)
            out.write(data)
            out.write(b"}")
            first = False
        out.write(b"]")


def read_bytes(f: ResourceFile) -> bytes:
    try:
        if f.path.name.endswith(".gz"):
            with gzip.open(f.path, "rb") as fh:
                return fh.read()
        return f.path.read_bytes()
    except (gzip.BadGzipFile, zlib.error):
        raise InputError(f.display, "not a readable gzip file (corrupt or not gzip)") from None
    except (OSError, EOFError) as exc:
        raise InputError(f.display, f"cannot be read ({getattr(exc, 'strerror', None) or type(exc).__name__})") from None


_PARSER = simdjson.Parser()  # validates without building Python objects: 7x orjson on the same files


def strict(f: ResourceFile, data: bytes) -> None:
    """Raise an InputError naming the position of what is wrong in `f`'s bytes, if anything is:
    strict JSON (no NaN, no trailing commas or text), a top-level array (one value a line for
    NDJSON). simdjson checks; orjson, slower, says where, for a file that fails. Nothing of the
    content is quoted: orjson's messages name the kind of error only."""
    if f.format == "newline_delimited":
        for lineno, line in enumerate(data.splitlines(), 1):
            if line.strip():
                try:
                    orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InputError(f.display, f"not valid JSON at line {lineno}, column {exc.colno}: {exc.msg}") from None
        return
    wanted, python = (simdjson.Object, dict) if f.format == "object" else (simdjson.Array, list)
    try:
        value = _PARSER.parse(data)
        sound = isinstance(value, wanted)
        del value  # a view into the parser's buffer
        if sound:
            return
    except (ValueError, RuntimeError):  # simdjson refuses integers beyond 64 bits, which JSON allows
        pass
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f.display, f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(value, python):
        kind = {"dict": "an object", "list": "an array", "str": "a string", "NoneType": "null"}.get(
            type(value).__name__, "a single value")
        want = "one JSON object (a download holds one record a file)" if f.format == "object" \
            else "a JSON array of records"
        raise InputError(f.display, f"must hold {want}, not {kind}")


def _strict_big(f: ResourceFile) -> None:
    """A big file is read by DuckDB as it is, which refuses what strict JSON refuses but for
    `NaN` and `Infinity`. Where those bytes appear at all (rarely: in a string, say), the file is
    checked strictly; a scan for them costs far less than parsing the file in Python."""
    if f.path.name.endswith(".gz"):
        data = read_bytes(f)
        found = b"NaN" in data or b"Infinity" in data
    else:  # scanned where it lies: a big file is not copied into memory to be searched
        with open(f.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
            found = view.find(b"NaN") >= 0 or view.find(b"Infinity") >= 0
    if found:
        strict(f, read_bytes(f))


def _diagnose(f: ResourceFile) -> None:
    """Raise an InputError naming the position of what is wrong in `f`, if anything is."""
    data = read_bytes(f)
    if data.strip():
        strict(f, data)


def _read_resource(con, resource: str, files: list[tuple[int, ResourceFile]], tmp: Path, empty: list[int]) -> None:
    sizes = {no: f.path.stat().st_size for no, f in files}
    # a file of one record (a download's) is always packed: it is one row however large
    big = [(no, f) for no, f in files if sizes[no] > PACK_LIMIT and f.format != "object"]
    small = [(no, f) for no, f in files if sizes[no] <= PACK_LIMIT or f.format == "object"]
    for _, f in big:
        _strict_big(f)
    for fmt in sorted({f.format for _, f in big}):
        group = [(no, f) for no, f in big if f.format == fmt]
        con.register("big_files", pd.DataFrame({"path": [str(f.path) for _, f in group], "file_no": [no for no, _ in group]}))
        _insert(con, resource, [(f, str(f.path)) for _, f in group],
                lambda exact, fmt=fmt: _direct_source(resource, fmt, exact))
        con.unregister("big_files")
    if not small:
        return
    # a few packed files of about equal size, file order kept
    total = sum(sizes[no] for no, _ in small)
    chunks: list[list[tuple[int, ResourceFile]]] = [[]]
    size = 0
    for no, f in small:
        if size >= total / PACK_CHUNKS:
            chunks.append([])
            size = 0
        chunks[-1].append((no, f))
        size += sizes[no]
    packed, paths = [], [tmp / f"{resource}-{i}.json" for i in range(len(chunks))]
    for part, path in zip(chunks, paths):
        _pack(part, path, empty)  # empty files add nothing but a note
        packed += [(f, str(path)) for _, f in part]
    # one call over all the packed files, so that DuckDB's threads read them side by side
    _insert(con, resource, packed, lambda exact: _packed_source(resource, exact))
    for path in paths:
        path.unlink()


def _tmp_dir() -> str | None:
    """Packed files go to memory-backed /dev/shm where there is one."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def ingest(con: duckdb.DuckDBPyConnection, snapshots: list[Snapshot]) -> None:
    """Create the tables `files`, one per resource (clean records only) and `load_issues`."""
    file_rows = []
    by_resource: dict[str, list[tuple[int, ResourceFile]]] = {r: [] for r in RESOURCES}
    for account_no, snap in enumerate(snapshots):
        for source_no, source in enumerate(snap.sources):
            scope = source.env if source.env is not None else "*"
            for resource, files in source.files.items():
                for f in files:
                    by_resource[resource].append((len(file_rows), f))
                    file_rows.append((f.display, account_no, source_no, scope, len(file_rows)))
    file_frame = pd.DataFrame(file_rows, columns=["display", "account_no", "source_no", "scope", "file_no"])
    con.register("file_frame", file_frame)
    con.execute("CREATE OR REPLACE TABLE files AS SELECT * FROM file_frame")
    con.unregister("file_frame")
    con.execute(
        "CREATE OR REPLACE TABLE load_issues (account_no INTEGER, file VARCHAR, record BIGINT, "
        "id VARCHAR, problem VARCHAR, action VARCHAR)"
    )

    merge_sources = any(len(s.sources) > 1 for s in snapshots)
    downloads = [(no, source_no) for no, snap in enumerate(snapshots)
                 for source_no, src in enumerate(snap.sources) if src.download]
    # integrations first: a download's flows name no integration, they take its integration.json's
    order = sorted(RESOURCES, key=lambda r: r != "integrations")
    with tempfile.TemporaryDirectory(prefix="auditor-", dir=_tmp_dir()) as tmp:
        empty: list[int] = []
        for resource in order:
            con.execute(_table_sql(resource))
            _read_resource(con, resource, by_resource[resource], Path(tmp), empty)
            _drop_bad_records(con, resource)
            if resource == "integrations" and downloads:
                # each download's own integration, before sources are merged (two downloads of one
                # integration hold it twice)
                con.execute("""
                    CREATE OR REPLACE TEMP TABLE download_owners AS
                    SELECT i.account_no, i.source_no, min(i.id) AS integration
                    FROM integrations i JOIN (SELECT unnest($a) AS account_no, unnest($s) AS source_no) d
                      ON d.account_no = i.account_no AND d.source_no = i.source_no
                    WHERE i.id <> '' GROUP BY ALL
                """, {"a": [d[0] for d in downloads], "s": [d[1] for d in downloads]})
            if resource == "flows":
                _note_bad_steps(con)
                if downloads:
                    con.execute("""
                        UPDATE flows SET "_integrationId" = o.integration FROM download_owners o
                        WHERE flows.account_no = o.account_no AND flows.source_no = o.source_no
                          AND flows."_integrationId" IS NULL;
                        DROP TABLE download_owners;
                    """)
            if merge_sources:
                _note_conflicts(con, resource)
                # sources of one account share resources (legacy production/ and sandbox/ folders,
                # integration downloads): one _id in one scope is one resource, the first one read
                con.execute(f"""
                    DELETE FROM {resource} t USING
                        (SELECT account_no, scope, id, min(source_no) AS first FROM {resource} GROUP BY ALL) k
                    WHERE t.account_no = k.account_no AND t.scope = k.scope AND t.id = k.id AND t.source_no > k.first
                """)
    # a file holding nothing (an empty body, only whitespace) is no records, and said so
    con.execute("INSERT INTO load_issues SELECT account_no, display, NULL, NULL, "
                "'the file is empty; read as no records', 'counted' FROM files WHERE list_contains($empty, file_no)",
                {"empty": empty})


def _note_conflicts(con, resource: str) -> None:
    """One _id read from several sources of an account with different content (in the fields the
    audit reads) is noted: the first source's is counted, and which one that is is said."""
    fields = [c for c in SPECS[resource] if c != "_id"]
    content = "md5(concat_ws(chr(31), " + ", ".join(f"coalesce({_q(c)}::VARCHAR, chr(0))" for c in fields) + "))"
    con.execute(f"""
        INSERT INTO load_issues
        SELECT account_no, arg_min(file, source_no), NULL, id,
               'the {_one(resource)} differs between ' || string_agg(DISTINCT file, ' and ' ORDER BY file)
               || '; the one in ' || arg_min(file, source_no) || ' is counted', 'counted'
        FROM {resource} GROUP BY account_no, scope, id HAVING count(DISTINCT {content}) > 1
    """)


def _step_checks() -> list[tuple[str, str, str]]:
    """(column, JSON path, what it must be) for every level of a flow's steps."""
    checks = []
    for col, base, refs in (("pageGenerators", "$[*]", ("_exportId",)),
                            ("pageProcessors", "$[*]", ("_exportId", "_importId")),
                            ("routers", "$[*].branches[*].pageProcessors[*]", ("_exportId", "_importId"))):
        if col == "routers":
            checks += [(col, "$[*]", "OBJECT"), (col, "$[*].branches", "ARRAY"), (col, "$[*].branches[*]", "OBJECT"),
                       (col, "$[*].branches[*].pageProcessors", "ARRAY")]
        checks.append((col, base, "OBJECT"))
        checks += [(col, f"{base}.{ref}", "VARCHAR") for ref in refs]
    return checks


def _step_problem_sql() -> str:
    """SQL: the first part of a flow's steps with the wrong shape (a step that is not an object,
    an id that is not a string), said in words; NULL when every step is sound."""
    words = {"OBJECT": "an object", "ARRAY": "an array", "VARCHAR": "a string"}
    cases = []
    for col, path, want in _step_checks():
        shown = col + path[1:].replace("[*]", "[]")
        cases.append(f"WHEN {_q(col)} IS NOT NULL AND len(list_filter(json_extract({_q(col)}, '{path}'), "
                     f"lambda v: json_type(v) NOT IN ('{want}', 'NULL'))) > 0 THEN '{shown} must be {words[want]}'")
    return "CASE " + " ".join(cases) + " END"


def _note_bad_steps(con) -> None:
    """A flow whose steps have a wrong shape is counted (it is a flow), and noted: such a step
    leads nowhere, so the connections it was meant to reach are not counted for it."""
    con.execute(f"""
        INSERT INTO load_issues
        SELECT account_no, file, record, id,
               'flow ' || p || '; the flow is counted, but that step leads nowhere (its connections are not counted)',
               'counted'
        FROM (SELECT *, {_step_problem_sql()} AS p FROM flows WHERE {_step_suspect_sql()}) WHERE p IS NOT NULL
    """)


def _step_suspect_sql() -> str:
    """SQL: a cheap test on the steps' text that holds for every flow with a wrongly shaped step
    (and for some sound ones), so that only those are parsed: an element that does not open an
    object, an id that does not open a string, branches or their steps that do not open an array."""
    tests = [r"(\[|\},)\s*[^{\]\s]", r'"_(export|import)Id"\s*:\s*[^"\s]', r'"(branches|pageProcessors)"\s*:\s*[^\[\s]']
    return " OR ".join(f"regexp_matches({_q(c)}, '{t}')" for c in ("pageGenerators", "pageProcessors", "routers")
                       for t in tests)


def _drop_bad_records(con, resource: str) -> None:
    """Move records with a problem, and repeats of an _id within one source, to load_issues."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE dups AS
        WITH d AS (SELECT account_no, source_no, id FROM {resource} WHERE problem IS NULL
                   GROUP BY ALL HAVING count(*) > 1)
        SELECT t.account_no, t.file, t.record, t.id, t.file_no,
               row_number() OVER w AS n, first_value(t.file) OVER w AS first_file,
               first_value(t.record) OVER w AS first_record
        FROM {resource} t JOIN d USING (account_no, source_no, id)
        WHERE t.problem IS NULL
        WINDOW w AS (PARTITION BY t.account_no, t.source_no, t.id ORDER BY t.file_no, t.record)
    """)
    con.execute(f"""
        INSERT INTO load_issues
        SELECT account_no, file, record, id, '{_one(resource)} ' || problem, 'skipped'
        FROM {resource} WHERE problem IS NOT NULL
        UNION ALL
        SELECT account_no, file, record, id,
               '{_one(resource)} has the same _id as record ' || first_record || ' of ' || first_file, 'skipped'
        FROM dups WHERE n > 1
    """)
    con.execute(f"DELETE FROM {resource} WHERE problem IS NOT NULL")
    con.execute(f"DELETE FROM {resource} s USING dups d WHERE d.n > 1 AND s.file_no = d.file_no AND s.record = d.record")
    con.execute("DROP TABLE dups")
