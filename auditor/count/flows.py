"""Which flows count, and which connections each flow reaches, in SQL over the loaded tables.

Steps are unnested from every path that can name an export or import: page generators, page
processors, router branches and the older single-step `_exportId` / `_importId`.
"""

from __future__ import annotations

import duckdb
import pandas as pd

# every export and import a flow names, one row each, with the connection it leads to
STEPS_SQL = """
CREATE OR REPLACE TEMP TABLE steps AS
WITH refs AS (
    SELECT account_no, scope, id AS flow_id,
        list_concat(
            coalesce(json_extract_string(pageGenerators, '$[*]._exportId'), []),
            coalesce(json_extract_string(pageProcessors, '$[*]._exportId'), []),
            coalesce(json_extract_string(routers, '$[*].branches[*].pageProcessors[*]._exportId'), []),
            CASE WHEN _exportId IS NOT NULL THEN [_exportId] ELSE [] END) AS exports,
        list_concat(
            coalesce(json_extract_string(pageProcessors, '$[*]._importId'), []),
            coalesce(json_extract_string(routers, '$[*].branches[*].pageProcessors[*]._importId'), []),
            CASE WHEN _importId IS NOT NULL THEN [_importId] ELSE [] END) AS imports
    FROM flows
)
-- exports and imports are joined apart: each reference meets only the table it names
SELECT x.account_no, x.scope, x.flow_id, 'export' AS kind, x.ref, e.id IS NOT NULL AS found,
       e._connectionId AS connection_id
FROM (SELECT account_no, scope, flow_id, unnest(exports) AS ref FROM refs) x
LEFT JOIN exports e ON e.account_no = x.account_no AND e.scope = x.scope AND e.id = x.ref
WHERE x.ref IS NOT NULL
UNION ALL
SELECT x.account_no, x.scope, x.flow_id, 'import', x.ref, i.id IS NOT NULL, i._connectionId
FROM (SELECT account_no, scope, flow_id, unnest(imports) AS ref FROM refs) x
LEFT JOIN imports i ON i.account_no = x.account_no AND i.scope = x.scope AND i.id = x.ref
WHERE x.ref IS NOT NULL
"""

# references to resources the snapshot does not hold
MISSING_SQL = """
SELECT DISTINCT s.account_no, f.environment, 'flow' AS resource_type, s.flow_id AS resource_id,
       f.name AS resource_name, s.kind AS missing_type, s.ref AS missing_id,
       -- which path named it, worked out only for the few references that are missing
       CASE WHEN list_contains(json_extract_string(fl.pageGenerators, '$[*]._exportId'), s.ref) THEN 'pageGenerators'
            WHEN list_contains(json_extract_string(fl.routers, '$[*].branches[*].pageProcessors[*]._exportId'), s.ref)
              OR list_contains(json_extract_string(fl.routers, '$[*].branches[*].pageProcessors[*]._importId'), s.ref) THEN 'routers'
            WHEN fl._exportId = s.ref OR fl._importId = s.ref THEN '_' || s.kind || 'Id'
            ELSE 'pageProcessors' END AS via
FROM steps s JOIN flow_facts f USING (account_no, scope, flow_id)
JOIN flows fl ON fl.account_no = s.account_no AND fl.scope = s.scope AND fl.id = s.flow_id
WHERE NOT s.found
UNION ALL
SELECT f.account_no, f.environment, 'flow', f.flow_id, f.name, 'integration', f.integration_id, '_integrationId'
FROM flow_facts f WHERE f.integration_id IS NOT NULL AND NOT f.integration_found
UNION ALL
SELECT x.account_no,
       CASE WHEN x.scope = '*' THEN CASE WHEN x.sandbox THEN 'sandbox' ELSE 'production' END ELSE x.scope END,
       x.kind, x.id, x.name, 'connection', x._connectionId, '_connectionId'
FROM (SELECT *, 'export' AS kind FROM exports UNION ALL BY NAME SELECT *, 'import' AS kind FROM imports) x
LEFT JOIN connections c ON c.account_no = x.account_no AND c.scope = x.scope AND c.id = x._connectionId
WHERE x._connectionId IS NOT NULL AND c.id IS NULL
ORDER BY 1, 2, 3, 4, 6, 7
"""

FACTS_SQL = """
CREATE OR REPLACE TEMP TABLE flow_facts AS
SELECT f.account_no, f.scope, f.id AS flow_id, f.name,
       CASE WHEN f.scope = '*' THEN CASE WHEN f.sandbox THEN 'sandbox' ELSE 'production' END ELSE f.scope END AS environment,
       NOT coalesce(f.disabled, false) AS enabled,
       coalesce(f.free, false) AS free,
       f._integrationId AS integration_id,
       i.id IS NOT NULL AS integration_found,
       coalesce(f._connectorId, i._connectorId) AS connector_id,
       f.pageGenerators ->> '$[0]._exportId' AS first_export,
       (f.pageGenerators ->> '$[0].application') = 'dataLoader'
         OR e.adaptorType = 'SimpleExport' OR e.type = 'simple' AS data_loader
FROM flows f
LEFT JOIN integrations i ON i.account_no = f.account_no AND i.scope = f.scope AND i.id = f._integrationId
LEFT JOIN exports e ON e.account_no = f.account_no AND e.scope = f.scope
                   AND e.id = (f.pageGenerators ->> '$[0]._exportId')
"""

# conn_keys(account_no, scope, id, role) and plans(account_no, plan, app_flows_billable) are
# registered by the caller; `tp_flows_billable` is a policy switch.
CLASSIFY_SQL = """
CREATE OR REPLACE TEMP TABLE flow_class AS
WITH tp AS (
    SELECT s.account_no, s.scope, s.flow_id, min(s.connection_id) AS tp_connection
    FROM steps s JOIN conn_keys c ON c.account_no = s.account_no AND c.scope = s.scope AND c.id = s.connection_id
    WHERE c.role = 'trading-partner'
    GROUP BY ALL
)
SELECT f.*, p.plan, tp.tp_connection,
  CASE
    WHEN NOT f.enabled THEN 'disabled'
    WHEN f.data_loader THEN 'data-loader'
    WHEN f.free THEN 'free'
    WHEN f.connector_id IS NOT NULL AND NOT p.app_flows_billable THEN 'integration-app'
    WHEN tp.tp_connection IS NOT NULL AND NOT $tp_flows_billable THEN 'trading-partner'
    ELSE 'billable'
  END AS reason_code
FROM flow_facts f
JOIN plans p ON p.account_no = f.account_no
LEFT JOIN tp ON tp.account_no = f.account_no AND tp.scope = f.scope AND tp.flow_id = f.flow_id
"""

FLOWS_OUT_SQL = """
SELECT account_no, environment, flow_id AS id, name, enabled, reason_code = 'billable' AS billable, reason_code,
  CASE reason_code
    WHEN 'disabled' THEN 'disabled: not counted'
    WHEN 'data-loader' THEN 'data-loader flow (first source ' || coalesce(first_export, 'a data loader') || '): not counted'
    WHEN 'free' THEN 'marked free: not counted'
    WHEN 'integration-app' THEN 'integration app flow (connector ' || connector_id || '): not counted on the ' || plan || ' plan'
    WHEN 'trading-partner' THEN 'uses trading-partner connection ' || tp_connection || ': not counted'
    WHEN 'billable' THEN CASE WHEN connector_id IS NOT NULL
        THEN 'enabled integration app flow (connector ' || connector_id || '): counted on the ' || plan || ' plan'
        ELSE 'enabled: counted' END
  END AS reason
FROM flow_class
ORDER BY account_no, environment, id
"""

# connections reached by enabled flows, in the environment of the flow
USAGE_SQL = """
SELECT DISTINCT f.account_no, f.scope, f.environment, s.connection_id, f.flow_id
FROM steps s JOIN flow_class f USING (account_no, scope, flow_id)
JOIN conn_keys c ON c.account_no = s.account_no AND c.scope = s.scope AND c.id = s.connection_id
WHERE f.enabled
"""


def classify(con: duckdb.DuckDBPyConnection, plans: pd.DataFrame, tp_flows_billable: bool) -> None:
    con.register("plans", plans)
    con.execute(CLASSIFY_SQL, {"tp_flows_billable": tp_flows_billable})
