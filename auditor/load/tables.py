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
from itertools import groupby

import duckdb
import orjson

from auditor.errors import InputError
from auditor.load.snapshot import RESOURCES, ResourceFile, Snapshot

# What each resource must look like: field -> JSON type. Every field is optional but `_id`.
CONNECTION_BLOCKS = (
    "netsuite", "salesforce", "http", "rest", "ftp", "as2", "rdbms", "jdbc",
    "mongodb", "s3", "dynamodb", "wrapper", "van", "mcp",
)
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


def _read_group(con, resource: str, fmt: str, files: list[str]) -> None:
    """Append one group of same-format files to raw_<resource>, with file and record position."""
    spec = SPECS[resource]
    columns = {col: "JSON" for col in spec}
    fast = (
        f"SELECT filename AS _file, 'OBJECT' AS _rtype, {', '.join(_q(c) for c in spec)} "
        f"FROM read_json($files, format='{fmt}', records=true, columns=$columns, filename=true)"
    )
    slow = (
        f"SELECT filename AS _file, json_type(json) AS _rtype, "
        + ", ".join(f"json -> '$.{c}' AS {_q(c)}" for c in spec)
        + f" FROM read_json_objects($files, format='{fmt}', filename=true)"
    )
    for body in (fast, slow):
        sql = (
            f"INSERT INTO raw_{resource} SELECT _file, "
            f"row_number() OVER () - 1 AS _rn, * EXCLUDE (_file) FROM ({body})"
        )
        try:
            con.execute(sql, {"files": files, "columns": columns} if body is fast else {"files": files})
            return
        except duckdb.InvalidInputException as exc:
            if "transform error" in str(exc) and body is fast:
                continue  # a record is not an object: read record by record as JSON values
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
        raise InputError(path, f"cannot be read ({exc.__class__.__name__})") from None
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
    """Create raw_<resource>, <resource> (clean) and load_issues tables in `con`."""
    file_rows = []
    by_resource: dict[str, list[ResourceFile]] = {r: [] for r in RESOURCES}
    for account_no, snap in enumerate(snapshots):
        for source_no, source in enumerate(snap.sources):
            for resource, files in source.files.items():
                for f in files:
                    scope = source.env if source.env is not None else "*"
                    file_rows.append((str(f.path), f.display, account_no, source_no, scope, len(file_rows)))
                    by_resource[resource].append(f)
    con.execute(
        "CREATE OR REPLACE TABLE files (path VARCHAR, display VARCHAR, account_no INTEGER, "
        "source_no INTEGER, scope VARCHAR, file_no INTEGER)"
    )
    if file_rows:
        con.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)", file_rows)
    displays = {str(f.path): f for fs in by_resource.values() for f in fs}
    con.execute(
        "CREATE OR REPLACE TABLE load_issues (account_no INTEGER, file VARCHAR, record BIGINT, "
        "id VARCHAR, problem VARCHAR, action VARCHAR)"
    )

    for resource in RESOURCES:
        spec = SPECS[resource]
        cols = ", ".join(f"{_q(c)} JSON" for c in spec)
        con.execute(f"CREATE OR REPLACE TABLE raw_{resource} (_file VARCHAR, _rn BIGINT, _rtype VARCHAR, {cols})")
        readable = [f for f in by_resource[resource] if f.path.stat().st_size > 0]
        for fmt, group in groupby(sorted(readable, key=lambda f: f.format), key=lambda f: f.format):
            paths = [str(f.path) for f in group]
            try:
                _read_group(con, resource, fmt, paths)
            except InputError as exc:
                raise InputError(_display(exc.file, displays), exc.problem) from None

        # position within its file, the first problem of each record, and duplicates
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE checked AS
            SELECT f.account_no, f.source_no, f.scope, f.file_no, f.display,
                   r._rn - min(r._rn) OVER (PARTITION BY r._file) AS record,
                   CASE WHEN json_type(r._id) = 'VARCHAR' THEN r._id ->> '$' END AS id,
                   {_problem_sql(spec)} AS problem, r.* EXCLUDE (_file, _rn, _rtype)
            FROM raw_{resource} r JOIN files f ON f.path = r._file
        """)
        con.execute(f"DROP TABLE raw_{resource}")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE ranked AS
            SELECT *,
                   row_number() OVER (PARTITION BY account_no, source_no, id ORDER BY file_no, record) AS dup_in_source,
                   first_value(display) OVER (PARTITION BY account_no, source_no, id ORDER BY file_no, record) AS first_file,
                   first_value(record) OVER (PARTITION BY account_no, source_no, id ORDER BY file_no, record) AS first_record,
                   row_number() OVER (PARTITION BY account_no, scope, id ORDER BY source_no, file_no, record) AS dup_in_scope
            FROM checked WHERE problem IS NULL
        """)
        con.execute(f"""
            INSERT INTO load_issues
            SELECT account_no, display, record, id, '{resource[:-1]} ' || problem, 'skipped'
            FROM checked WHERE problem IS NOT NULL
            UNION ALL
            SELECT account_no, display, record, id,
                   '{resource[:-1]} has the same _id as record ' || first_record || ' of ' || first_file,
                   'skipped'
            FROM ranked WHERE dup_in_source > 1
        """)
        # the clean table: typed scalars, JSON kept only for step arrays and connection blocks
        typed = []
        for col, kind in spec.items():
            if col == "_id":
                continue
            if kind == "string":
                typed.append(f"{_q(col)} ->> '$' AS {_q(col)}")
            elif kind == "boolean":
                typed.append(f"CAST({_q(col)} ->> '$' AS BOOLEAN) AS {_q(col)}")
            else:
                typed.append(f"CASE WHEN json_type({_q(col)}) <> 'NULL' THEN {_q(col)} END AS {_q(col)}")
        con.execute(f"""
            CREATE OR REPLACE TABLE {resource} AS
            SELECT account_no, scope, display AS file, record, id, {', '.join(typed)}
            FROM ranked WHERE dup_in_source = 1 AND dup_in_scope = 1
        """)
        con.execute("DROP TABLE checked; DROP TABLE ranked")
