-- ETL engine, current state: transition rules, the only way states change, timeouts, the logger.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

-- state_table: the regclass and state type of one of the four tables with a state: a fixed
-- whitelist (NULLs for any other name). Dynamic statements below are built only from these
-- catalog references, never from caller input (docs/decisions.md D28).
CREATE OR REPLACE FUNCTION etl_api.state_table(p_table text, OUT rel regclass, OUT state_type regtype)
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.rel, t.state_type
      FROM (VALUES ('activity_request', 'etl_api.activity_request'::regclass, 'etl_api.activity_request_state'::regtype),
                   ('run_queue', 'etl_api.run_queue'::regclass, 'etl_api.run_queue_state'::regtype),
                   ('run_request', 'etl_api.run_request'::regclass, 'etl_api.run_request_state'::regtype),
                   ('workflow_request', 'etl_api.workflow_request'::regclass, 'etl_api.workflow_request_state'::regtype))
           AS t(name, rel, state_type)
     WHERE t.name = p_table
$$;
REVOKE ALL ON FUNCTION etl_api.state_table(text) FROM PUBLIC;

-- is_valid_state_transition: the state machine, exactly: new -> valid | invalid; valid -> ready
-- | waiting; ready -> in_progress; in_progress -> done | failed | timedout; waiting -> ready |
-- invalid | timedout; done -> delivered. Nothing else (unknown states are never valid).
CREATE OR REPLACE FUNCTION etl_api.is_valid_state_transition(p_from text, p_to text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((p_from, p_to) IN (
        ('new', 'valid'), ('new', 'invalid'),
        ('valid', 'ready'), ('valid', 'waiting'),
        ('ready', 'in_progress'),
        ('in_progress', 'done'), ('in_progress', 'failed'), ('in_progress', 'timedout'),
        ('waiting', 'ready'), ('waiting', 'invalid'), ('waiting', 'timedout'),
        ('done', 'delivered')), false)
$$;
SELECT leadledger.secure_function('etl_api.is_valid_state_transition(text, text)');

-- logger: one line of the ETL log. Levels: debug, info, warning, error, critical (22023 otherwise).
CREATE OR REPLACE FUNCTION etl_api.logger(p_level text, p_message text, p_context jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_level IS NULL OR p_level NOT IN ('debug', 'info', 'warning', 'error', 'critical') THEN
        PERFORM leadledger.invalid_parameter('p_level', format(
            'must be debug, info, warning, error or critical, got %s', coalesce(quote_literal(p_level), 'nothing')));
    END IF;
    IF p_message IS NULL OR btrim(p_message) = '' THEN
        PERFORM leadledger.invalid_parameter('p_message', 'is required');
    END IF;
    INSERT INTO etl_api.etl_log (level, message, context) VALUES (p_level, p_message, p_context)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
SELECT leadledger.secure_function('etl_api.logger(text, text, jsonb)');

-- transition_state: the only way an ETL row's state changes.
-- Guarantees: the row is locked (SELECT ... FOR UPDATE) before its current state is read, so of
-- two racing transitions the second is judged against the first's result: exactly one of two
-- conflicting transitions wins, and the history (appended in the same transaction) always ends
-- in the row's state. A disallowed transition is refused (P0001, naming both states) and
-- changes nothing. The state column's guard trigger is opened only around this UPDATE.
-- Tenancy: leadledger.org_scope decides first (docs/decisions.md D47). The service may act on
-- any organization's row, or only within p_organization_id when it names one; anyone else only
-- on rows of the organization of his JWT claims. A row of another organization is '<table> <id>
-- not found' (23503), exactly like a missing one.
CREATE OR REPLACE FUNCTION etl_api.transition_state(
    p_table text, p_id uuid, p_to text, p_substate text DEFAULT NULL, p_reason text DEFAULT NULL,
    p_organization_id uuid DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_organization uuid;
    v_target record;
    v_from text;
    v_org_id uuid;
    v_at timestamptz;
BEGIN
    v_organization := leadledger.org_scope(p_organization_id);
    SELECT * INTO v_target FROM etl_api.state_table(p_table);
    IF v_target.rel IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_table', format(
            'must be activity_request, run_queue, run_request or workflow_request, got %s',
            coalesce(quote_literal(p_table), 'nothing')));
    END IF;
    IF p_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_id', 'is required');
    END IF;
    IF p_to IS NULL OR p_to NOT IN ('new', 'valid', 'invalid', 'waiting', 'ready', 'in_progress', 'timedout',
                                    'failed', 'done', 'delivered') THEN
        PERFORM leadledger.invalid_parameter('p_to', format('unknown state %s', coalesce(quote_literal(p_to), 'nothing')));
    END IF;

    EXECUTE format('SELECT state::text, org_id FROM %s WHERE id = $1 AND ($2::uuid IS NULL OR org_id = $2) FOR UPDATE',
                   v_target.rel)
        INTO v_from, v_org_id USING p_id, v_organization;
    IF v_from IS NULL THEN
        PERFORM leadledger.raise_error('23503', format('%s %s not found', p_table, p_id));
    END IF;
    IF NOT etl_api.is_valid_state_transition(v_from, p_to) THEN
        PERFORM leadledger.raise_error('P0001', format('Invalid state transition from %s to %s', v_from, p_to),
                                       format('%s %s', p_table, p_id));
    END IF;

    v_at := clock_timestamp();
    PERFORM set_config('etl_api.transition_in_progress', 'on', true);
    EXECUTE format('UPDATE %s SET state = $1::%s, state_substate = $2, state_changed_at = $3, updated_at = $3'
                   ' WHERE id = $4', v_target.rel, v_target.state_type)
        USING p_to, p_substate, v_at, p_id;
    PERFORM set_config('etl_api.transition_in_progress', 'off', true);
    INSERT INTO etl_api.state_history (table_name, row_id, org_id, from_state, to_state, substate, reason, at)
    VALUES (p_table, p_id, v_org_id, v_from, p_to, p_substate, p_reason, v_at);
    PERFORM etl_api.logger('info', format('%s %s: %s -> %s', p_table, p_id, v_from, p_to),
                           jsonb_build_object('table', p_table, 'id', p_id, 'org_id', v_org_id, 'from', v_from,
                                              'to', p_to, 'substate', p_substate, 'reason', p_reason));

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'table', p_table, 'id', p_id, 'from', v_from, 'to', p_to, 'substate', p_substate, 'at', v_at));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    -- The refused attempt is logged too: the handler runs after the body's writes were undone.
    -- org_id is the row's organization when the row was found (NULL for one of another).
    PERFORM etl_api.logger('warning', format('transition refused: %s', v_message),
                           jsonb_build_object('table', p_table, 'id', p_id, 'org_id', v_org_id, 'to', p_to,
                                              'sqlstate', v_state));
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('etl_api.transition_state(text, uuid, text, text, text, uuid)');

-- mark_timedout: moves in_progress and waiting rows past their deadline, or whose state is older
-- than p_older_than, to timedout (substate 'deadline' or 'stale'); returns how many it moved.
-- Guarantees: rows are taken with FOR UPDATE SKIP LOCKED, so rows being transitioned right now
-- are left to their transition (and picked up next run); each move is recorded in the history.
-- Tenancy: the service moves the rows of every organization (p_organization_id NULL) or of the
-- one it names; anyone else only those of the organization of his JWT claims (org_scope).
CREATE OR REPLACE FUNCTION etl_api.mark_timedout(p_older_than interval, p_organization_id uuid DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '60s'
AS $$
DECLARE
    v_organization uuid;
    v_table text;
    v_target record;
    v_moved integer;
    v_total integer := 0;
    v_counts jsonb := '{}';
BEGIN
    v_organization := leadledger.org_scope(p_organization_id);
    IF p_older_than IS NOT NULL AND p_older_than <= interval '0' THEN
        PERFORM leadledger.invalid_parameter('p_older_than', 'must be a positive interval');
    END IF;
    PERFORM set_config('etl_api.transition_in_progress', 'on', true);
    FOREACH v_table IN ARRAY ARRAY['activity_request', 'run_queue', 'run_request', 'workflow_request'] LOOP
        SELECT * INTO v_target FROM etl_api.state_table(v_table);
        EXECUTE format($sql$
            WITH due AS (
                SELECT id, state::text AS from_state, deadline < now() AS past_deadline FROM %1$s
                 WHERE state IN ('in_progress', 'waiting')
                   AND (deadline < now() OR state_changed_at < now() - $1)
                   AND ($3::uuid IS NULL OR org_id = $3)
                   FOR UPDATE SKIP LOCKED
            ), moved AS (
                UPDATE %1$s t SET state = 'timedout',
                       state_substate = CASE WHEN due.past_deadline THEN 'deadline' ELSE 'stale' END,
                       state_changed_at = clock_timestamp(), updated_at = now()
                  FROM due WHERE t.id = due.id
                RETURNING t.id, t.org_id, due.from_state, t.state_substate, t.state_changed_at
            )
            INSERT INTO etl_api.state_history (table_name, row_id, org_id, from_state, to_state, substate, reason, at)
            SELECT $2, id, org_id, from_state, 'timedout', state_substate, 'mark_timedout', state_changed_at FROM moved
            $sql$, v_target.rel)
            USING p_older_than, v_table, v_organization;
        GET DIAGNOSTICS v_moved = ROW_COUNT;
        v_total := v_total + v_moved;
        v_counts := v_counts || jsonb_build_object(v_table, v_moved);
    END LOOP;
    PERFORM set_config('etl_api.transition_in_progress', 'off', true);
    IF v_total > 0 THEN
        PERFORM etl_api.logger('warning', format('mark_timedout moved %s rows to timedout', v_total),
                               jsonb_build_object('older_than', p_older_than::text, 'org_id', v_organization,
                                                  'counts', v_counts));
    END IF;
    RETURN v_total;
END
$$;
SELECT leadledger.secure_function('etl_api.mark_timedout(interval, uuid)');
