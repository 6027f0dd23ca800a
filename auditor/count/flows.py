"""Which flows count, and which connections each flow reaches, in SQL over the loaded tables.

Steps are unnested from every path that can name an export or import: page generators, page
processors, router branches and the older single-step `_exportId` / `_importId`.

An instance flow (`_abstractFlowId`) runs its abstract flow's steps with its own `overrides`: a
step's override may name the connection (`overrides.exports[]._connectionId`) or another export
or import (`_id`) for the abstract one (`_abstractId`); `overrides.connections[]` swaps a
connection of the abstract graph (`_abstractId`, else the entry at the same position in
`overridesHelper.connections[]`) for a concrete one (`_id`). An abstract flow (`isAbstract`) is a
template that cannot run: it reaches nothing and is never billable.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from auditor.common.vocabulary import month_bounds

# the graph each flow runs: its own, or an instance flow's abstract flow's
GRAPH_SQL = """
CREATE OR REPLACE TEMP VIEW flow_graph AS
SELECT f.account_no, f.scope, f.id AS flow_id, a.id IS NOT NULL AS abstract_found,
       CASE WHEN f._abstractFlowId IS NULL THEN f.pageGenerators ELSE a.pageGenerators END AS pageGenerators,
       CASE WHEN f._abstractFlowId IS NULL THEN f.pageProcessors ELSE a.pageProcessors END AS pageProcessors,
       CASE WHEN f._abstractFlowId IS NULL THEN f.routers ELSE a.routers END AS routers,
       CASE WHEN f._abstractFlowId IS NULL THEN f._exportId ELSE a._exportId END AS _exportId,
       CASE WHEN f._abstractFlowId IS NULL THEN f._importId ELSE a._importId END AS _importId
FROM flows f
LEFT JOIN flows a ON a.account_no = f.account_no AND a.scope = f.scope AND a.id = f._abstractFlowId;

-- an instance flow's overrides, one row per overridden step or connection
CREATE OR REPLACE TEMP TABLE flow_overrides AS
WITH o AS (
    SELECT account_no, scope, id AS flow_id, overrides, overridesHelper FROM flows
    WHERE _abstractFlowId IS NOT NULL AND json_type(overrides) = 'OBJECT'
), entries AS (
    SELECT account_no, scope, flow_id, 'export' AS kind, unnest(coalesce(TRY_CAST(json_extract(overrides, '$.exports[*]') AS JSON[]), [])) AS e, NULL::INTEGER AS pos, NULL::JSON AS helper FROM o
    UNION ALL
    SELECT account_no, scope, flow_id, 'import', unnest(coalesce(TRY_CAST(json_extract(overrides, '$.imports[*]') AS JSON[]), [])), NULL, NULL FROM o
    UNION ALL
    SELECT account_no, scope, flow_id, 'connection', e, pos, overridesHelper FROM (
        SELECT account_no, scope, flow_id, overridesHelper,
               unnest(coalesce(TRY_CAST(json_extract(overrides, '$.connections[*]') AS JSON[]), [])) AS e,
               generate_subscripts(coalesce(TRY_CAST(json_extract(overrides, '$.connections[*]') AS JSON[]), []), 1) AS pos
        FROM o)
)
SELECT account_no, scope, flow_id, kind,
       coalesce(e ->> '$._abstractId', helper -> '$.connections' -> (pos - 1) ->> '$._abstractId') AS abstract_id,
       e ->> '$._id' AS replacement, e ->> '$._connectionId' AS connection_id
FROM entries WHERE json_type(e) = 'OBJECT';
"""

# what an import reaches besides its own connection: the MCP connections of an AI agent or a
# guardrail (`_mcpConnectionId`, at whatever depth of the provider blocks), and, for a tool call
# (`tool._toolId`), the connections of the tool's own steps (from reacher_refs, made before)
IMPORT_LINKS_SQL = """
CREATE OR REPLACE TEMP TABLE import_links AS
SELECT DISTINCT account_no, scope, import_id, unnest(ids) AS connection_id FROM (
    SELECT account_no, scope, id AS import_id,
           list_concat(coalesce(json_extract_string(aiAgent, '$.**._mcpConnectionId'), []),
                       coalesce(json_extract_string(guardrail, '$.**._mcpConnectionId'), [])) AS ids
    FROM imports WHERE aiAgent IS NOT NULL OR guardrail IS NOT NULL)
UNION
SELECT i.account_no, i.scope, i.id, r.connection_id
FROM imports i JOIN reacher_refs r ON r.account_no = i.account_no AND r.scope = i.scope AND r.rtype = 'tool'
                                  AND r.id = i.tool ->> '$._toolId'
WHERE r.found
"""

# every export and import a flow runs, one row each, with the connection it leads to
STEPS_SQL = """
CREATE OR REPLACE TEMP TABLE steps AS
WITH refs AS (
    SELECT account_no, scope, flow_id,
        list_concat(
            coalesce(json_extract_string(pageGenerators, '$[*]._exportId'), []),
            coalesce(json_extract_string(pageProcessors, '$[*]._exportId'), []),
            coalesce(json_extract_string(routers, '$[*].branches[*].pageProcessors[*]._exportId'), []),
            CASE WHEN _exportId IS NOT NULL THEN [_exportId] ELSE [] END) AS exports,
        list_concat(
            coalesce(json_extract_string(pageProcessors, '$[*]._importId'), []),
            coalesce(json_extract_string(routers, '$[*].branches[*].pageProcessors[*]._importId'), []),
            CASE WHEN _importId IS NOT NULL THEN [_importId] ELSE [] END) AS imports
    FROM flow_graph
), named AS (
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
)
-- an instance flow's overrides: the step's own connection, else its replacement step's, else
-- the abstract step's connection as swapped by the connection overrides
SELECT n.account_no, n.scope, n.flow_id, n.kind, n.ref, n.found,
       coalesce(o.connection_id, r.connection_id, c.replacement, n.connection_id) AS connection_id
FROM named n
LEFT JOIN flow_overrides o ON o.account_no = n.account_no AND o.scope = n.scope AND o.flow_id = n.flow_id
                          AND o.kind = n.kind AND o.abstract_id = n.ref
LEFT JOIN (SELECT account_no, scope, id, _connectionId AS connection_id, 'export' AS kind FROM exports
           UNION ALL SELECT account_no, scope, id, _connectionId, 'import' FROM imports) r
       ON r.account_no = n.account_no AND r.scope = n.scope AND r.kind = n.kind AND r.id = o.replacement
LEFT JOIN flow_overrides c ON c.account_no = n.account_no AND c.scope = n.scope AND c.flow_id = n.flow_id
                          AND c.kind = 'connection' AND c.abstract_id = n.connection_id
UNION ALL
-- and what an import step reaches besides its own connection
SELECT n.account_no, n.scope, n.flow_id, n.kind, n.ref, n.found, l.connection_id
FROM named n JOIN import_links l ON l.account_no = n.account_no AND l.scope = n.scope AND l.import_id = n.ref
WHERE n.kind = 'import' AND l.connection_id IS NOT NULL
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
JOIN flow_graph fl ON fl.account_no = s.account_no AND fl.scope = s.scope AND fl.flow_id = s.flow_id
WHERE NOT s.found
UNION ALL
SELECT f.account_no, f.environment, 'flow', f.flow_id, f.name, 'integration', f.integration_id, '_integrationId'
FROM flow_facts f WHERE f.integration_id IS NOT NULL AND NOT f.integration_found
UNION ALL
SELECT f.account_no, f.environment, 'flow', f.flow_id, f.name, 'flow', f.abstract_flow_id, '_abstractFlowId'
FROM flow_facts f WHERE f.abstract_flow_id IS NOT NULL AND NOT f.abstract_found
UNION ALL
SELECT account_no, environment, rtype, id, name, kind, ref, via FROM reacher_refs WHERE NOT found
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
       coalesce(f.isAbstract, false) AS abstract, f._abstractFlowId AS abstract_flow_id, g.abstract_found,
       CASE WHEN f.scope = '*' THEN CASE WHEN f.sandbox THEN 'sandbox' ELSE 'production' END ELSE f.scope END AS environment,
       NOT coalesce(f.disabled, false) AS enabled,
       coalesce(f.free, false) AS free,
       f._integrationId AS integration_id,
       TRY_CAST(f.lastExecutedAt AS TIMESTAMPTZ) AS last_executed,
       i.id IS NOT NULL AS integration_found,
       coalesce(f._connectorId, i._connectorId) AS connector_id,
       g.pageGenerators ->> '$[0]._exportId' AS first_export,
       (g.pageGenerators ->> '$[0].application') = 'dataLoader'
         OR e.adaptorType = 'SimpleExport' OR e.type = 'simple' AS data_loader
FROM flows f
JOIN flow_graph g ON g.account_no = f.account_no AND g.scope = f.scope AND g.flow_id = f.id
LEFT JOIN integrations i ON i.account_no = f.account_no AND i.scope = f.scope AND i.id = f._integrationId
LEFT JOIN exports e ON e.account_no = f.account_no AND e.scope = f.scope
                   AND e.id = (g.pageGenerators ->> '$[0]._exportId')
"""

# the run history, on the platform plan ("distinct integration flows or flow instances that are run
# count", help center 30722413400859): each job read, and what became of it; only flow jobs of the
# audit month ($start to $end) whose flow the snapshot holds are runs
JOBS_SQL = """
CREATE OR REPLACE TEMP TABLE job_class AS
WITH j AS (
    SELECT j.*, coalesce(j.startedAt, j.createdAt) AS at_text,
           TRY_CAST(coalesce(j.startedAt, j.createdAt) AS TIMESTAMPTZ) AS at
    FROM jobs j
)
SELECT j.account_no, j.scope, j.file, j.record, j.id, j._flowId AS flow_id, j.type,
  CASE
    WHEN NOT p.counts_runs THEN 'unused'
    WHEN coalesce(j.type, 'flow') <> 'flow' THEN 'not-flow'
    WHEN j._flowId IS NULL THEN 'no-flow'
    WHEN j.at_text IS NULL THEN 'no-time'
    WHEN j.at IS NULL THEN 'bad-time'
    WHEN j.at < $start OR j.at >= $end THEN 'other-month'
    WHEN f.id IS NULL THEN 'unknown-flow'
    ELSE 'run'
  END AS status
FROM j JOIN plans p ON p.account_no = j.account_no
LEFT JOIN flows f ON f.account_no = j.account_no AND f.scope = j.scope AND f.id = j._flowId
"""
RUNS_SQL = """
CREATE OR REPLACE TEMP TABLE flow_runs AS
SELECT account_no, scope, flow_id, count(*) AS runs FROM job_class WHERE status = 'run' GROUP BY ALL
"""

# what the jobs that are not runs say, as load notes: one for each job skipped (the pull asks for the
# flow jobs of the month only, so these are few), one for each file of a plan not counting runs
JOB_NOTES_SQL = """
SELECT account_no, file, NULL::BIGINT AS record, NULL AS id,
       'the plan counts enabled flows, so the run history is not used' AS problem, 'not read' AS action
FROM job_class WHERE status = 'unused' GROUP BY account_no, file
UNION ALL
SELECT account_no, file, record, id,
       CASE status
         WHEN 'not-flow' THEN 'job of a step (type ' || type || '), not counted: only flow jobs count as runs'
         WHEN 'no-flow' THEN 'job names no _flowId, not counted'
         WHEN 'no-time' THEN 'job has neither startedAt nor createdAt, not counted'
         WHEN 'bad-time' THEN 'job startedAt (or createdAt) is not a date and time, not counted'
         WHEN 'other-month' THEN 'job ran outside ' || $month || ', the month audited, not counted'
         WHEN 'unknown-flow' THEN 'job ran a flow the snapshot does not hold (deleted since?), not counted: flow '
                                  || flow_id
       END, 'skipped'
FROM job_class WHERE status NOT IN ('run', 'unused')
"""

# conn_keys(account_no, scope, id, role) and plans(account_no, plan, app_flows_billable,
# counts_runs) are registered by the caller; `tp_flows_billable` is a policy switch. `active`: the
# flow counts as reaching its connections (enabled; on a plan counting runs, run in the month)
CLASSIFY_SQL = """
CREATE OR REPLACE TEMP TABLE flow_class AS
WITH tp AS (
    SELECT s.account_no, s.scope, s.flow_id, min(s.connection_id) AS tp_connection
    FROM steps s JOIN conn_keys c ON c.account_no = s.account_no AND c.scope = s.scope AND c.id = s.connection_id
    WHERE c.role = 'trading-partner'
    GROUP BY ALL
)
SELECT f.*, p.plan, p.counts_runs, r.runs, $month AS run_month, tp.tp_connection,
  NOT f.abstract AND CASE WHEN p.counts_runs THEN r.runs IS NOT NULL ELSE f.enabled END AS active,
  CASE
    WHEN f.abstract THEN 'abstract'
    WHEN p.counts_runs AND r.runs IS NULL THEN CASE WHEN f.enabled THEN 'not-run' ELSE 'disabled' END
    WHEN NOT f.enabled AND NOT p.counts_runs THEN 'disabled'
    WHEN f.data_loader THEN 'data-loader'
    WHEN f.free THEN 'free'
    WHEN f.connector_id IS NOT NULL AND NOT p.app_flows_billable THEN 'integration-app'
    WHEN tp.tp_connection IS NOT NULL AND NOT $tp_flows_billable THEN 'trading-partner'
    ELSE 'billable'
  END AS reason_code
FROM flow_facts f
JOIN plans p ON p.account_no = f.account_no
LEFT JOIN flow_runs r ON r.account_no = f.account_no AND r.scope = f.scope AND r.flow_id = f.flow_id
LEFT JOIN tp ON tp.account_no = f.account_no AND tp.scope = f.scope AND tp.flow_id = f.flow_id
"""

# integration_app and netsuite_sandboxes are for the rules only (the results list the rest): the
# connector of an integration app flow, and the NetSuite sandbox connections its steps reach;
# last_run (the flow's lastExecutedAt) for advice, which prefers flows idle lately
FLOWS_OUT_SQL = """
SELECT f.account_no, environment, f.flow_id AS id, name, enabled, reason_code = 'billable' AS billable, reason_code,
  CASE reason_code
    WHEN 'abstract' THEN 'abstract flow: a template that cannot run, not counted (its instance flows are)'
    WHEN 'disabled' THEN CASE WHEN counts_runs THEN 'disabled, and did not run in ' || run_month || ': not counted'
                         ELSE 'disabled: not counted' END
    WHEN 'not-run' THEN 'did not run in ' || run_month || ': not counted (the platform plan counts flows run)'
    WHEN 'data-loader' THEN 'data-loader flow (first source ' || coalesce(first_export, 'a data loader') || '): not counted'
    WHEN 'free' THEN 'marked free: not counted'
    WHEN 'integration-app' THEN 'integration app flow (connector ' || connector_id || '): not counted on the ' || plan || ' plan'
    WHEN 'trading-partner' THEN 'uses trading-partner connection ' || tp_connection || ': not counted'
    WHEN 'billable' THEN CASE
        WHEN counts_runs THEN 'ran ' || runs || CASE WHEN runs = 1 THEN ' time' ELSE ' times' END || ' in ' || run_month
            || CASE WHEN enabled THEN '' ELSE ' (disabled since)' END
            || ': counted (the platform plan counts flows run)'
            || CASE WHEN connector_id IS NOT NULL THEN '; integration app flow (connector ' || connector_id || ')'
                    WHEN abstract_flow_id IS NOT NULL THEN '; instance of abstract flow ' || abstract_flow_id
                    ELSE '' END
        WHEN connector_id IS NOT NULL
        THEN 'enabled integration app flow (connector ' || connector_id || '): counted on the ' || plan || ' plan'
        WHEN abstract_flow_id IS NOT NULL THEN 'enabled instance of abstract flow ' || abstract_flow_id || ': counted'
        ELSE 'enabled: counted' END
        || CASE WHEN plan = 'platform' AND NOT counts_runs
                THEN ' (no run history: the platform plan counts flows run, so this is an upper bound)' ELSE '' END
  END AS reason,
  connector_id AS integration_app, n.netsuite_sandboxes, last_executed AS last_run
FROM flow_class f
LEFT JOIN (
    SELECT account_no, scope, flow_id, string_agg(DISTINCT label, ', ' ORDER BY label) AS netsuite_sandboxes
    FROM (SELECT s.account_no, s.scope, s.flow_id,
                 c.id || ' (NetSuite account ' || coalesce(c.netsuite_account, '?') || ')' AS label
          FROM steps s JOIN conn_keys c ON c.account_no = s.account_no AND c.scope = s.scope AND c.id = s.connection_id
          WHERE c.netsuite_sandbox)
    GROUP BY ALL
) n ON n.account_no = f.account_no AND n.scope = f.scope AND n.flow_id = f.flow_id
ORDER BY f.account_no, environment, id
"""

# every reference of an API (its steps under builder.routers[]), a tool (routers[]) and a sync (its
# source and destination connections), found or not, in the environment of its sandbox flag; one
# that is `disabled` reaches nothing but its references are still checked
REACHER_REFS_SQL = """
CREATE OR REPLACE TEMP TABLE reacher_refs AS
WITH r AS (
    SELECT account_no, scope, sandbox, disabled, 'api' AS rtype, id, name, 'builder.routers' AS via,
           coalesce(json_extract_string(builder, '$.routers[*].branches[*].pageProcessors[*]._exportId'), []) AS exports,
           coalesce(json_extract_string(builder, '$.routers[*].branches[*].pageProcessors[*]._importId'), []) AS imports,
           []::VARCHAR[] AS direct
    FROM apis
    UNION ALL
    SELECT account_no, scope, sandbox, disabled, 'tool', id, name, 'routers',
           coalesce(json_extract_string(routers, '$[*].branches[*].pageProcessors[*]._exportId'), []),
           coalesce(json_extract_string(routers, '$[*].branches[*].pageProcessors[*]._importId'), []), []
    FROM tools
    UNION ALL
    SELECT account_no, scope, sandbox, disabled, 'sync', id, name, 'source, destination', [], [],
           list_filter([source ->> '$._connectionId', destination ->> '$._connectionId'], lambda c: c IS NOT NULL)
    FROM syncs
), env AS (
    SELECT *, NOT coalesce(disabled, false) AS active,
           CASE WHEN scope = '*' THEN CASE WHEN sandbox THEN 'sandbox' ELSE 'production' END ELSE scope END
             AS environment FROM r
)
SELECT x.account_no, x.scope, x.environment, x.active, x.rtype, x.id, x.name, x.via, 'export' AS kind, x.ref,
       e.id IS NOT NULL AS found, e._connectionId AS connection_id
FROM (SELECT *, unnest(exports) AS ref FROM env) x
LEFT JOIN exports e ON e.account_no = x.account_no AND e.scope = x.scope AND e.id = x.ref
UNION ALL
SELECT x.account_no, x.scope, x.environment, x.active, x.rtype, x.id, x.name, x.via, 'import', x.ref,
       i.id IS NOT NULL, i._connectionId
FROM (SELECT *, unnest(imports) AS ref FROM env) x
LEFT JOIN imports i ON i.account_no = x.account_no AND i.scope = x.scope AND i.id = x.ref
UNION ALL
SELECT x.account_no, x.scope, x.environment, x.active, x.rtype, x.id, x.name, x.via, 'connection', x.ref,
       c.id IS NOT NULL, x.ref
FROM (SELECT *, unnest(direct) AS ref FROM env) x
LEFT JOIN connections c ON c.account_no = x.account_no AND c.scope = x.scope AND c.id = x.ref
"""

# what each active API, tool and sync reaches (an AI agent or tool call among its imports included)
REACHER_STEPS_SQL = """
CREATE OR REPLACE TEMP TABLE reacher_steps AS
SELECT account_no, scope, environment, connection_id, rtype || ':' || id AS reacher
FROM reacher_refs WHERE active AND found AND connection_id IS NOT NULL
UNION ALL
SELECT r.account_no, r.scope, r.environment, l.connection_id, r.rtype || ':' || r.id
FROM reacher_refs r
JOIN import_links l ON l.account_no = r.account_no AND l.scope = r.scope AND l.import_id = r.ref
WHERE r.active AND r.kind = 'import';

-- a connection a step reaches that the snapshot lacks (a download without connections/) is still
-- an endpoint of what reaches it: keyed by itself (its id, or a fingerprint of an id that is not
-- one), unresolved, named in its explanation (the table is made anew: a frame of no connections
-- gave its text columns no type)
CREATE OR REPLACE TEMP TABLE conn_keys_reached AS
SELECT * REPLACE (CAST(id AS VARCHAR) AS id, CAST(role AS VARCHAR) AS role, CAST(key AS VARCHAR) AS key,
                  CAST(endpoint_application AS VARCHAR) AS endpoint_application,
                  CAST(category AS VARCHAR) AS category, CAST(resolved AS BOOLEAN) AS resolved,
                  CAST(explain AS VARCHAR) AS explain, CAST(netsuite_sandbox AS BOOLEAN) AS netsuite_sandbox)
FROM conn_keys
UNION ALL BY NAME
SELECT account_no, scope, connection_id AS id, 'endpoint' AS role,
       'connection:' || CASE WHEN regexp_full_match(connection_id, '[A-Za-z0-9_.-]{1,128}') THEN connection_id
                             ELSE 'unreadable#' || left(sha256(connection_id), 10) END AS key,
       'unknown' AS endpoint_application, 'universal' AS category, false AS resolved,
       'a connection the snapshot does not hold (' ||
       CASE WHEN regexp_full_match(connection_id, '[A-Za-z0-9_.-]{1,128}') THEN connection_id ELSE 'an unreadable id' END
       || '): counted as an endpoint of its own, since which remote system it reaches is unknown' AS explain,
       false AS netsuite_sandbox
FROM (SELECT account_no, scope, connection_id FROM steps
      UNION SELECT account_no, scope, connection_id FROM reacher_steps) s
WHERE connection_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM connections c
                  WHERE c.account_no = s.account_no AND c.scope = s.scope AND c.id = s.connection_id);
DROP TABLE conn_keys;
ALTER TABLE conn_keys_reached RENAME TO conn_keys;
"""

# connections reached by active flows (enabled; on a plan counting runs, run in the month: "the
# endpoints used will be counted when flows are run", help center 8136520732059) and by APIs, tools
# and syncs, in the environment of what reaches them
USAGE_SQL = """
SELECT DISTINCT f.account_no, f.scope, f.environment, s.connection_id, f.flow_id, NULL::VARCHAR AS reacher
FROM steps s JOIN flow_class f USING (account_no, scope, flow_id)
JOIN conn_keys c ON c.account_no = s.account_no AND c.scope = s.scope AND c.id = s.connection_id
WHERE f.active
UNION
SELECT r.account_no, r.scope, r.environment, r.connection_id, NULL, r.reacher
FROM reacher_steps r
JOIN conn_keys c ON c.account_no = r.account_no AND c.scope = r.scope AND c.id = r.connection_id
"""


def classify(con: duckdb.DuckDBPyConnection, plans: pd.DataFrame, tp_flows_billable: bool,
             as_of: date) -> pd.DataFrame:
    """Flows classified into flow_class; returns the load notes of the jobs read."""
    start, end, month = month_bounds(as_of)
    con.register("plans", plans)
    con.execute(JOBS_SQL, {"start": start, "end": end})
    con.execute(RUNS_SQL)
    notes = con.execute(JOB_NOTES_SQL, {"month": month}).df()
    con.execute(CLASSIFY_SQL, {"tp_flows_billable": tp_flows_billable, "month": month})
    con.execute("DROP TABLE job_class; DROP TABLE jobs")
    return notes
