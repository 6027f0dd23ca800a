"""Results files on disk: written atomically, and read back with validation when they come from
outside (`report`, `endpoints`, `flows`, `diff`)."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from pydantic import ValidationError

from auditor.common.errors import AuditorError, UnsoundDocument
from auditor.common.files import atomic
from auditor.results.model import LISTS, READABLE, Results
from auditor.results.upgrade import fill


def dumps(results: dict) -> bytes:
    """Compact JSON (the big lists arrive pre-serialised); `jq .` pretty-prints it."""
    return orjson.dumps(results, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"


def _checked(value) -> bool:
    """Rows the writer checked per column (auditor.results.rows), or a list DuckDB serialised
    from a table it checked: not checked again row by row."""
    from auditor.results.rows import Rows
    return isinstance(value, (Rows, orjson.Fragment))


def encode(results: dict) -> bytes:
    """The results file's bytes, once the document is checked against the model its readers
    use (strictly, as they read it): a document the tool would refuse to read is never written.
    Rows checked per column where they were made are left out of this check."""
    rest = {k: ([] if _checked(v) else v) for k, v in results.items() if k != "accounts"}
    rest["accounts"] = [{k: ([] if _checked(v) else v) for k, v in a.items()} for a in results.get("accounts", [])]
    # an account's counts are checked against its lists where the lists were made, from the tables
    lists = not any(_checked(a.get(k)) for a in results.get("accounts", []) for k in LISTS)
    try:
        Results.model_validate_json(dumps(rest), strict=True, context={"lists": lists})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UnsoundDocument(f"{_where(err['loc'])}: {err['msg']}") from None
    return dumps(results)


STD = "-"  # a path of "-": standard output when written, standard input when read


def shown(path: Path, reading: bool = False) -> str:
    """How messages name a results file."""
    if str(path) == STD:
        return "standard input" if reading else "standard output"
    return str(path)


def write(results: dict, path: Path) -> None:
    write_bytes(encode(results), path)


def write_bytes(data: bytes, path: Path) -> None:
    """The results file, atomically; "-" writes it to standard output."""
    if str(path) == STD:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        with atomic(path) as tmp:  # the old file or the new one, never a part; no temporary file left
            tmp.write_bytes(data)
    except OSError as exc:
        raise AuditorError(f"{path}: cannot write the results file ({exc.strerror})") from None


def _where(loc: tuple) -> str:
    """A pydantic error location as a path: accounts[0].environments."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "top level"


def load_json(path: Path, validate: bool = True) -> dict:
    """A results file as plain data, checked for its schema version and, unless the caller has
    just written it (`validate=False`), against the `Results` model: a file from elsewhere with
    a missing key or a wrong shape is refused naming the first problem, never rendered wrong."""
    where = shown(path, reading=True)
    try:
        data = orjson.loads(sys.stdin.buffer.read() if str(path) == STD else path.read_bytes())
    except OSError as exc:
        raise AuditorError(f"{where}: cannot read ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise AuditorError(f"{where}: not valid JSON at line {exc.lineno}, column {exc.colno}") from None
    return check(data, where, validate)


def check(data, where: str, validate: bool = True, lists: bool = True) -> dict:
    """`data` if it is a results document of this schema version and (with `validate`) sound by
    the `Results` model; else an error naming `where` and the first problem. `lists=False` for a
    document whose lists are known to be incomplete (rebuilt from an old history): its counts are
    not held to agree with them."""
    if not isinstance(data, dict) or data.get("schema_version") not in READABLE or "accounts" not in data:
        raise AuditorError(f"{where}: not a results file of schema version {' or '.join(map(str, READABLE))}")
    if validate:
        try:
            Results.model_validate(data, strict=True, context={"lists": lists})
        except ValidationError as exc:
            err = exc.errors()[0]
            raise AuditorError(f"{where}: not a sound results file: {_where(err['loc'])}: {err['msg']}") from None
    return fill(data)
