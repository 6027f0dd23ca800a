"""Per-account JSON arrays serialised by DuckDB, for the results file.

Big lists (a million flows) never become Python objects: DuckDB writes each account's array
with `to_json`, and orjson embeds it as a `Fragment`.
"""

from __future__ import annotations

import duckdb
import orjson

from auditor.results.rows import check_relation

BATCH_ROWS = 200_000  # rows serialised at once: bounds memory when accounts are large


def json_lists(con: duckdb.DuckDBPyConnection, relation: str, model, fields: dict[str, str], order: str,
               n: int, weight: str = "1", where: str = "rows") -> list[orjson.Fragment]:
    """One JSON array per account_no (0..n-1) of the rows of `relation` (a table or registered
    frame), rows of `model`; `fields` maps the model's fields to its columns, in output order, each
    column checked against its field first. Accounts are serialised in batches of about
    BATCH_ROWS rows, a row counting as `weight` (an SQL expression: rows that hold long lists
    weigh more)."""
    check_relation(con, relation, model, fields, where)
    pack = ", ".join(f'"{name}" := "{col}"' for name, col in fields.items())
    sizes = con.execute(f"SELECT account_no, sum({weight}) FROM {relation} GROUP BY ALL ORDER BY 1").fetchall()
    batches, start, rows = [], None, 0
    for no, count in sizes:
        start = no if start is None else start
        rows += count
        if rows >= BATCH_ROWS:
            batches.append((start, no))
            start, rows = None, 0
    if start is not None:
        batches.append((start, sizes[-1][0]))
    lists = [orjson.Fragment(b"[]")] * n
    for lo, hi in batches:
        found = con.execute(
            f"SELECT account_no, to_json(list(struct_pack({pack}) ORDER BY {order}))::VARCHAR "
            f"FROM {relation} WHERE account_no BETWEEN $lo AND $hi GROUP BY account_no", {"lo": lo, "hi": hi}
        ).fetchall()
        for no, text in found:
            lists[no] = orjson.Fragment(text)
    return lists
