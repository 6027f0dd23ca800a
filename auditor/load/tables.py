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
import duckdb
import orjson
import pandas as pd

from auditor.errors import InputError
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
# records worth a note (with their position) although they are counted
_TYPES_SQL = ", ".join(f"'{t}'" for t in CONNECTION_TYPES)
NOTES = {"connections": f"coalesce(lower(s.type) NOT IN ({_TYPES_SQL}), true)"}
SPECS: dict[str, dict[str, str]] = {
    "flows": {
        "_id": "string", "name": "string", "disabled": "boolean", "free": "boolean",
        "sandbox": "boolean", "_integrationId": "string", "_connectorId": "string",
        "pageGenerators": "array", "pageProcessors": "array", "routers": "array",
        "_exportId": "string", "_importId": "string",
    },
    "exports": {
        "_id": "string", "name": "string", "adaptorType": "string", "type": "string",
        "_connectionId": "string", "sandbox": "boolean",
    },
    "imports": {
        "_id": "string", "name": "string", "adaptorType": "string", "_connectionId": "string",
        "sandbox": "boolean",
    },
    "integrations": {
        "_id": "string", "name": "string", "_connectorId": "string", "sandbox": "boolean",
        "mode": "string",
    },
    "connections": {
        "_id": "string", "name": "string", "type": "string", "sandbox": "boolean",
        "assistant": "string", "_connectorId": "string", "_integrationId": "string",
        "_agentId": "string", "offline": "boolean",
        **{block: "object" for block in CONNECTION_BLOCKS},
    },
}
JSON_TYPES = {"string": ("VARCHAR",), "boolean": ("BOOLEAN",), "array": ("ARRAY",), "object": ("OBJECT",)}
TYPE_WORDS = (
    "CASE json_type({c}) WHEN 'VARCHAR' THEN 'a string' WHEN 'BOOLEAN' THEN 'a boolean' "
    "WHEN 'ARRAY' THEN 'an array' WHEN 'OBJECT' THEN 'an object' ELSE 'a number' END"
)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _problem_sql(spec: dict[str, str]) -> str:
    """One SQL expression giving the first problem of a record, or NULL when it is sound."""
    cases = [
        "WHEN _rtype IS DISTINCT FROM 'OBJECT' THEN 'is not a JSON object'",
        "WHEN _id IS NULL OR json_type(_id) = 'NULL' THEN 'has no _id'",
    ]
    for col, kind in spec.items():
        allowed = ", ".join(f"'{t}'" for t in JSON_TYPES[kind] + ("NULL",))
        word = {"string": "a string", "boolean": "true or false", "array": "an array", "object": "an object"}[kind]
        cases.append(
            f"WHEN {_q(col)} IS NOT NULL AND json_type({_q(col)}) NOT IN ({allowed}) "
            f"THEN '{col} must be {word}, not ' || {TYPE_WORDS.format(c=_q(col))}"
        )
    return "CASE " + " ".join(cases) + " END"


def _select(resource: str, fmt: str, positions: bool) -> str:
    """SQL reading one group of same-format files as (_file, [_rn,] _rtype, declared fields).

    Without `positions` the fields are read as declared columns, the fastest way, which fails
    if a record is not an object. With `positions` every record is read as a JSON value (so
    nothing fails) and numbered in file order; that is only done for the few files that hold a
    bad record, to name its position."""
    spec = SPECS[resource]
    if not positions:
        return (
            f"SELECT filename AS _file, 'OBJECT' AS _rtype, {', '.join(_q(c) for c in spec)} "
            f"FROM read_json($files, format='{fmt}', records=true, columns=$columns, filename=true)"
        )
    fields = ", ".join(f"json -> '$.{c}' AS {_q(c)}" for c in spec)
    return (
        f"SELECT _file, _rn, json_type(json) AS _rtype, {fields} FROM ("
        f"SELECT filename AS _file, row_number() OVER () AS _rn, json "
        f"FROM read_json_objects($files, format='{fmt}', filename=true))"
    )


def _typed(col: str, kind: str) -> str:
    """A declared field as the clean table keeps it: scalars typed, arrays and blocks as JSON.
    TRY_CAST because a record whose field has the wrong type is dropped, but only afterwards."""
    if kind == "string":
        return f"r.{_q(col)} ->> '$'"
    if kind == "boolean":
        return f"TRY_CAST(r.{_q(col)} ->> '$' AS BOOLEAN)"
    return f"CASE WHEN json_type(r.{_q(col)}) <> 'NULL' THEN r.{_q(col)} END"


def _table_sql(resource: str) -> str:
    """The resource's table: where the record came from, its first problem, its typed fields."""
    spec = SPECS[resource]
    types = {"string": "VARCHAR", "boolean": "BOOLEAN", "array": "JSON", "object": "JSON"}
    cols = ", ".join(f"{_q(c)} {types[k]}" for c, k in spec.items() if c != "_id")
    return (f"CREATE OR REPLACE TEMP TABLE {resource} (account_no INTEGER, source_no INTEGER, scope VARCHAR, "
            f"file_no INTEGER, file VARCHAR, record BIGINT, id VARCHAR, problem VARCHAR, {cols})")


def _stage(con, resource: str, groups: dict[str, list[str]], positions: bool) -> None:
    """Insert the records of `groups` (format -> files) into the resource's table."""
    spec = SPECS[resource]
    typed = ", ".join(_typed(c, k) for c, k in spec.items() if c != "_id")
    for fmt, files in groups.items():
        for exact in (True,) if positions else (False, True):
            record = "r._rn - min(r._rn) OVER (PARTITION BY r._file)" if exact else "NULL"
            sql = f"""
                INSERT INTO {resource}
                SELECT f.account_no, f.source_no, f.scope, f.file_no, f.display, {record},
                       CASE WHEN json_type(r._id) = 'VARCHAR' THEN r._id ->> '$' END,
                       {_problem_sql(spec)}, {typed}
                FROM ({_select(resource, fmt, exact)}) r JOIN files f ON f.path = r._file
            """
            params = {"files": files} if exact else {"files": files, "columns": {c: "JSON" for c in spec}}
            try:
                con.execute(sql, params)
                break
            except duckdb.Error as exc:
                if isinstance(exc, duckdb.InvalidInputException) and "transform error" in str(exc) and not exact:
                    continue  # a record is not an object: read these files record by record
                for path in files:
                    _diagnose(path, fmt)
                raise InputError(files[0], "could not be read as JSON") from None


def _diagnose(path: str, fmt: str) -> None:
    """Raise an InputError naming the position of what is wrong in `path`, if anything is."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        what = "not a readable gzip file" if isinstance(exc, gzip.BadGzipFile) else f"cannot be read ({exc.strerror or type(exc).__name__})"
        raise InputError(path, what) from None
    if not data.strip():
        return
    if fmt == "newline_delimited":
        for lineno, line in enumerate(data.splitlines(), 1):
            if line.strip():
                try:
                    orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise InputError(path, f"not valid JSON at line {lineno}, column {exc.colno}: {exc.msg}") from None
        return
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(value, list):
        kind = type(value).__name__.replace("dict", "an object").replace("str", "a string")
        raise InputError(path, f"must hold a JSON array of records, not {kind}")


def _display(path: str, files: dict[str, ResourceFile]) -> str:
    return files[path].display if path in files else path


def ingest(con: duckdb.DuckDBPyConnection, snapshots: list[Snapshot]) -> None:
    """Create the tables `files`, one per resource (clean records only) and `load_issues`."""
    file_rows = []
    by_resource: dict[str, list[ResourceFile]] = {r: [] for r in RESOURCES}
    for account_no, snap in enumerate(snapshots):
        for source_no, source in enumerate(snap.sources):
            for resource, files in source.files.items():
                for f in files:
                    scope = source.env if source.env is not None else "*"
                    file_rows.append((str(f.path), f.display, account_no, source_no, scope, len(file_rows)))
                    by_resource[resource].append(f)
    file_frame = pd.DataFrame(file_rows, columns=["path", "display", "account_no", "source_no", "scope", "file_no"])
    con.register("file_frame", file_frame)
    con.execute("CREATE OR REPLACE TABLE files AS SELECT * FROM file_frame")
    con.unregister("file_frame")
    displays = {str(f.path): f for fs in by_resource.values() for f in fs}
    con.execute(
        "CREATE OR REPLACE TABLE load_issues (account_no INTEGER, file VARCHAR, record BIGINT, "
        "id VARCHAR, problem VARCHAR, action VARCHAR)"
    )

    merge_sources = any(s.license_model == "legacy" and len(s.sources) > 1 for s in snapshots)
    for resource in RESOURCES:
        con.execute(_table_sql(resource))
        _stage_files(con, resource, [f for f in by_resource[resource] if not _empty(f)], displays, positions=False)

        # the files holding a bad record or a repeated _id are read again, numbering their records
        affected = [row[0] for row in con.execute(f"""
            WITH dup AS (SELECT account_no, source_no, id FROM {resource} WHERE problem IS NULL
                         GROUP BY ALL HAVING count(*) > 1)
            SELECT DISTINCT f.path FROM {resource} s JOIN files f USING (file_no)
            LEFT JOIN dup d ON d.account_no = s.account_no AND d.source_no = s.source_no AND d.id = s.id
            WHERE s.problem IS NOT NULL OR d.id IS NOT NULL OR {NOTES.get(resource, "false")}
        """).fetchall()]
        if affected:
            con.execute(f"DELETE FROM {resource} WHERE file_no IN "
                        "(SELECT file_no FROM files WHERE path IN (SELECT unnest($p)))", {"p": affected})
            _stage_files(con, resource, [displays[p] for p in affected], displays, positions=True)
            con.execute(f"""
                CREATE OR REPLACE TEMP TABLE dups AS
                SELECT account_no, file, record, id, file_no,
                       row_number() OVER w AS n, first_value(file) OVER w AS first_file,
                       first_value(record) OVER w AS first_record
                FROM {resource} WHERE problem IS NULL AND record IS NOT NULL
                WINDOW w AS (PARTITION BY account_no, source_no, id ORDER BY file_no, record)
            """)
            con.execute(f"""
                INSERT INTO load_issues
                SELECT account_no, file, record, id, '{resource[:-1]} ' || problem, 'skipped'
                FROM {resource} WHERE problem IS NOT NULL
                UNION ALL
                SELECT account_no, file, record, id,
                       '{resource[:-1]} has the same _id as record ' || first_record || ' of ' || first_file, 'skipped'
                FROM dups WHERE n > 1
            """)
            con.execute(f"DELETE FROM {resource} WHERE problem IS NOT NULL")
            con.execute(f"DELETE FROM {resource} s USING dups d "
                        "WHERE d.n > 1 AND s.file_no = d.file_no AND s.record = d.record")
        if merge_sources:
            # legacy production/ and sandbox/ folders share resources: one _id is one resource
            con.execute(f"""
                DELETE FROM {resource} t USING
                    (SELECT account_no, scope, id, min(source_no) AS first FROM {resource} GROUP BY ALL) k
                WHERE t.account_no = k.account_no AND t.scope = k.scope AND t.id = k.id AND t.source_no > k.first
            """)
    con.execute("DROP TABLE IF EXISTS dups")


def _empty(f: ResourceFile) -> bool:
    """True for a file that holds no records at all (empty, or the empty array an API returns)."""
    size = f.path.stat().st_size
    return size == 0 or (size <= 16 and f.format == "array" and not f.path.name.endswith(".gz")
                         and f.path.read_bytes().strip() == b"[]")


def _stage_files(con, resource: str, files: list[ResourceFile], displays, positions: bool) -> None:
    groups: dict[str, list[str]] = {}
    for f in files:
        groups.setdefault(f.format, []).append(str(f.path))
    try:
        _stage(con, resource, groups, positions)
    except InputError as exc:
        raise InputError(_display(exc.file, displays), exc.problem) from None
