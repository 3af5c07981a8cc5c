-- ETL engine, current state: reads for the API and CLI.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Tenancy (docs/decisions.md D47): leadledger.org_scope decides first. The service reads every
-- organization's rows (p_organization_id NULL, through the monitoring views) or those of the one
-- it names; anyone else only those of the organization of his JWT claims.

-- get_state_counts: rows per table and state (etl_api.state_counts), every table listed; of one
-- organization when the call is confined to one.
CREATE OR REPLACE FUNCTION etl_api.get_state_counts(p_organization_id uuid DEFAULT NULL)
RETURNS TABLE (table_name text, state text, rows bigint)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organization uuid;
BEGIN
    v_organization := leadledger.org_scope(p_organization_id);
    IF v_organization IS NULL THEN
        RETURN QUERY SELECT c.table_name, c.state, c.rows FROM etl_api.state_counts c ORDER BY 1, 2;
    ELSE
        RETURN QUERY SELECT s.table_name, s.state, count(*) FROM etl_api.all_states s
                      WHERE s.org_id = v_organization GROUP BY 1, 2 ORDER BY 1, 2;
    END IF;
END
$$;
SELECT leadledger.secure_function('etl_api.get_state_counts(uuid)');

-- get_stuck_rows: rows in in_progress or waiting past their deadline (etl_api.stuck_rows), most
-- overdue first; of one organization when the call is confined to one.
CREATE OR REPLACE FUNCTION etl_api.get_stuck_rows(p_limit integer DEFAULT 100, p_organization_id uuid DEFAULT NULL)
RETURNS TABLE (table_name text, id uuid, org_id uuid, state text, state_substate text,
               state_changed_at timestamptz, deadline timestamptz, overdue interval)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_organization uuid;
BEGIN
    v_organization := leadledger.org_scope(p_organization_id);
    RETURN QUERY
        SELECT s.table_name, s.id, s.org_id, s.state, s.state_substate, s.state_changed_at, s.deadline, s.overdue
          FROM etl_api.stuck_rows s
         WHERE v_organization IS NULL OR s.org_id = v_organization
         ORDER BY s.overdue DESC LIMIT greatest(coalesce(p_limit, 100), 1);
END
$$;
SELECT leadledger.secure_function('etl_api.get_stuck_rows(integer, uuid)');
