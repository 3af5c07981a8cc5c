-- ETL engine, current state: the monitoring views.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

CREATE OR REPLACE VIEW etl_api.all_states AS
    SELECT 'activity_request'::text AS table_name, id, org_id, state::text AS state, state_substate,
           state_changed_at, deadline FROM etl_api.activity_request WHERE deleted_at IS NULL
    UNION ALL
    SELECT 'run_queue', id, org_id, state::text, state_substate, state_changed_at, deadline FROM etl_api.run_queue
    UNION ALL
    SELECT 'run_request', id, org_id, state::text, state_substate, state_changed_at, deadline
      FROM etl_api.run_request WHERE deleted_at IS NULL
    UNION ALL
    SELECT 'workflow_request', id, org_id, state::text, state_substate, state_changed_at, deadline
      FROM etl_api.workflow_request WHERE deleted_at IS NULL;
COMMENT ON VIEW etl_api.all_states IS 'Every live ETL row with its state, one shape for all four tables.';

CREATE OR REPLACE VIEW etl_api.state_counts AS
    SELECT table_name, state, count(*) AS rows FROM etl_api.all_states GROUP BY table_name, state;
COMMENT ON VIEW etl_api.state_counts IS 'How many rows of each table are in each state.';

CREATE OR REPLACE VIEW etl_api.state_ages AS
    SELECT table_name, state, state_substate, count(*) AS rows, min(state_changed_at) AS oldest_since,
           now() - min(state_changed_at) AS oldest_age
      FROM etl_api.all_states GROUP BY table_name, state, state_substate;
COMMENT ON VIEW etl_api.state_ages IS 'Rows per state and substate, with how long the oldest has been there.';

CREATE OR REPLACE VIEW etl_api.stuck_rows AS
    SELECT table_name, id, org_id, state, state_substate, state_changed_at, deadline, now() - deadline AS overdue
      FROM etl_api.all_states
     WHERE state IN ('in_progress', 'waiting') AND deadline < now();
COMMENT ON VIEW etl_api.stuck_rows IS 'Rows in in_progress or waiting past their deadline.';

CREATE OR REPLACE VIEW etl_api.transitions_per_hour AS
    SELECT date_trunc('hour', at) AS hour, table_name, from_state, to_state, count(*) AS transitions
      FROM etl_api.state_history GROUP BY 1, 2, 3, 4;
COMMENT ON VIEW etl_api.transitions_per_hour IS 'State transitions per hour, table and (from, to).';

GRANT SELECT ON etl_api.all_states, etl_api.state_counts, etl_api.state_ages, etl_api.stuck_rows,
    etl_api.transitions_per_hour TO leadledger_service;
