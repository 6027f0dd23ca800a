"""Per-account JSON arrays serialised by DuckDB, for the results file.

Big lists (a million flows) never become Python objects: DuckDB writes each account's array
with `to_json`, and orjson embeds it as a `Fragment`.
"""

from __future__ import annotations

import duckdb
import orjson

ENV_ORDER = "CASE environment WHEN 'production' THEN 0 WHEN 'sandbox' THEN 1 ELSE 2 END, environment"
ENDPOINT_FIELDS = ("environment", "key", "application", "category", "resolved", "explain", "connections", "flows")
FLOW_FIELDS = ("environment", "id", "name", "enabled", "billable", "reason_code", "reason")


def json_lists(con: duckdb.DuckDBPyConnection, relation: str, fields: dict[str, str], order: str,
               n: int) -> list[orjson.Fragment]:
    """One JSON array per account_no (0..n-1) of the rows of `relation` (a table or registered
    frame); `fields` maps output names to its columns, in output order."""
    pack = ", ".join(f'"{name}" := "{col}"' for name, col in fields.items())
    found = con.execute(
        f"SELECT account_no, to_json(list(struct_pack({pack}) ORDER BY {order}))::VARCHAR "
        f"FROM {relation} GROUP BY account_no"
    ).fetchall()
    lists = [orjson.Fragment(b"[]")] * n
    for no, text in found:
        lists[no] = orjson.Fragment(text)
    return lists
