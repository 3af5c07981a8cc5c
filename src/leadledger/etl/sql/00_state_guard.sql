-- ETL engine, current state: the guard on the state column.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

-- guard_state_column: the state column changes only through etl_api.transition_state (and
-- mark_timedout), which set etl_api.transition_in_progress for the length of their UPDATE.
CREATE OR REPLACE FUNCTION etl_api.guard_state_column()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state
       AND coalesce(current_setting('etl_api.transition_in_progress', true), '') <> 'on' THEN
        PERFORM leadledger.raise_error('42501',
            format('state of %s.%s changes only through etl_api.transition_state', TG_TABLE_SCHEMA, TG_TABLE_NAME),
            p_hint => format('SELECT etl_api.transition_state(%L, %L, %L)', TG_TABLE_NAME, OLD.id, NEW.state));
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER activity_request_guard_state BEFORE UPDATE OF state ON etl_api.activity_request
    FOR EACH ROW EXECUTE FUNCTION etl_api.guard_state_column();
CREATE OR REPLACE TRIGGER run_queue_guard_state BEFORE UPDATE OF state ON etl_api.run_queue
    FOR EACH ROW EXECUTE FUNCTION etl_api.guard_state_column();
CREATE OR REPLACE TRIGGER run_request_guard_state BEFORE UPDATE OF state ON etl_api.run_request
    FOR EACH ROW EXECUTE FUNCTION etl_api.guard_state_column();
CREATE OR REPLACE TRIGGER workflow_request_guard_state BEFORE UPDATE OF state ON etl_api.workflow_request
    FOR EACH ROW EXECUTE FUNCTION etl_api.guard_state_column();
