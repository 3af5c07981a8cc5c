-- ETL engine, current state: reads for the API and CLI.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

-- ETL engine, phase 1: read functions over the monitoring views, for the client and the CLI.

-- get_state_counts: rows per table and state (etl_api.state_counts), every table listed.
CREATE OR REPLACE FUNCTION etl_api.get_state_counts()
RETURNS TABLE (table_name text, state text, rows bigint)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.table_name, c.state, c.rows FROM etl_api.state_counts c ORDER BY c.table_name, c.state
$$;
SELECT leadledger.secure_function('etl_api.get_state_counts()');

-- get_stuck_rows: rows in in_progress or waiting past their deadline, most overdue first.
CREATE OR REPLACE FUNCTION etl_api.get_stuck_rows(p_limit integer DEFAULT 100)
RETURNS TABLE (table_name text, id uuid, org_id uuid, state text, state_substate text,
               state_changed_at timestamptz, deadline timestamptz, overdue interval)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.table_name, s.id, s.org_id, s.state, s.state_substate, s.state_changed_at, s.deadline, s.overdue
      FROM etl_api.stuck_rows s ORDER BY s.overdue DESC LIMIT greatest(coalesce(p_limit, 100), 1)
$$;
SELECT leadledger.secure_function('etl_api.get_stuck_rows(integer)');
