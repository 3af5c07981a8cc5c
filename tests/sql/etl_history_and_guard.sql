-- pgTAP: what etl_api.transition_state writes besides the row (20261123030100_etl_functions.sql):
-- exactly one etl_api.state_history row and one info line of etl_api.etl_log per transition,
-- nothing (but a warning line) for a refused one, a history that always ends in the row's state;
-- and the guard trigger of 20261123030000_etl_states.sql: a direct UPDATE of the state column is
-- refused (42501) while other columns can be updated directly.
-- Setup helpers live in the schema etl_tap, created inside this transaction and rolled back.
BEGIN;
SELECT plan(90);

\ir etl_fixture.psql
\ir etl_fixture_rows.psql

CREATE FUNCTION etl_tap.state_of(p_table text, p_id uuid) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
BEGIN
    EXECUTE format('SELECT state::text FROM etl_api.%I WHERE id = $1', p_table) INTO v_state USING p_id;
    RETURN v_state;
END
$$;

-- The history and the info log lines of one row, as JSON arrays in order.
CREATE FUNCTION etl_tap.history_of(p_id uuid) RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('table', table_name, 'id', row_id, 'org_id', org_id, 'from', from_state,
                                                 'to', to_state, 'substate', substate, 'reason', reason) ORDER BY id), '[]')
      FROM etl_api.state_history WHERE row_id = p_id
$$;
CREATE FUNCTION etl_tap.info_log_of(p_id uuid) RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('message', message, 'context', context) ORDER BY id), '[]')
      FROM etl_api.etl_log WHERE level = 'info' AND context->>'id' = p_id::text
$$;

-- check_history: walks one row through p_path; after every step the row's whole history and its
-- whole info log must be what was before plus exactly one entry. 2 assertions per step, + 3.
CREATE FUNCTION etl_tap.check_history(p_table text, p_path text[]) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    v_org uuid := etl_tap.new_org();
    v_id uuid := etl_tap.new_row(p_table, v_org);
    v_history jsonb := '[]';
    v_log jsonb := '[]';
    v_env jsonb;
    v_substate text;
    v_reason text;
BEGIN
    FOR i IN 2 .. array_length(p_path, 1) LOOP
        -- Alternate between a substate/reason and none, to show NULLs are recorded as NULLs.
        v_substate := CASE WHEN i % 2 = 0 THEN 'sub_' || p_path[i] END;
        v_reason := CASE WHEN i % 2 = 0 THEN 'because ' || p_path[i] END;
        v_env := etl_api.transition_state(p_table, v_id, p_path[i], v_substate, v_reason);
        v_history := v_history || jsonb_build_array(jsonb_build_object(
            'table', p_table, 'id', v_id, 'org_id', v_org, 'from', p_path[i - 1], 'to', p_path[i], 'substate', v_substate,
            'reason', v_reason));
        v_log := v_log || jsonb_build_array(jsonb_build_object(
            'message', format('%s %s: %s -> %s', p_table, v_id, p_path[i - 1], p_path[i]),
            'context', jsonb_build_object('table', p_table, 'id', v_id, 'org_id', v_org, 'from', p_path[i - 1],
                                          'to', p_path[i], 'substate', v_substate, 'reason', v_reason)));
        RETURN NEXT is(etl_tap.history_of(v_id), v_history,
                       format('%s: %s -> %s appended exactly one history row (table, id, org_id, from, to, substate, reason)',
                              p_table, p_path[i - 1], p_path[i]));
        RETURN NEXT is(etl_tap.info_log_of(v_id), v_log,
                       format('%s: %s -> %s appended exactly one info line to etl_log (with the row''s org_id)',
                              p_table, p_path[i - 1], p_path[i]));
    END LOOP;
    RETURN NEXT is((SELECT to_state FROM etl_api.state_history WHERE row_id = v_id ORDER BY id DESC LIMIT 1),
                   etl_tap.state_of(p_table, v_id), format('%s: the history ends in the row''s current state', p_table));
    RETURN NEXT ok(EXISTS (SELECT 1 FROM etl_api.state_history h
                            WHERE h.row_id = v_id AND h.at = (v_env->>'at')::timestamptz
                              AND h.id = (SELECT max(id) FROM etl_api.state_history WHERE row_id = v_id)),
                   format('%s: the last history row has the envelope''s "at"', p_table));
    RETURN NEXT is((SELECT count(*) FROM etl_api.etl_log WHERE context->>'id' = v_id::text AND level <> 'info'), 0::bigint,
                   format('%s: successful transitions log nothing but info lines', p_table));
END
$$;

-- check_refusals: refused transitions append no history and no info line (the refusal itself is
-- logged as one warning line naming it). 4 assertions.
CREATE FUNCTION etl_tap.check_refusals(p_table text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := etl_tap.new_row(p_table, etl_tap.new_org());
    v_history jsonb;
    v_log jsonb;
    v_env jsonb;
BEGIN
    v_env := etl_api.transition_state(p_table, v_id, 'valid');
    v_history := etl_tap.history_of(v_id);
    v_log := etl_tap.info_log_of(v_id);
    v_env := etl_api.transition_state(p_table, v_id, 'delivered', 'x', 'refused on purpose');
    v_env := etl_api.transition_state(p_table, v_id, 'unknown_state');
    RETURN NEXT is(etl_tap.history_of(v_id), v_history, format('%s: refused transitions append no history', p_table));
    RETURN NEXT is(etl_tap.info_log_of(v_id), v_log, format('%s: refused transitions log no info line', p_table));
    RETURN NEXT is((SELECT jsonb_agg(jsonb_build_object('message', message, 'sqlstate', context->>'sqlstate') ORDER BY id)
                      FROM etl_api.etl_log WHERE level = 'warning' AND context->>'id' = v_id::text),
                   jsonb_build_array(
                       jsonb_build_object('message', 'transition refused: Invalid state transition from valid to delivered',
                                          'sqlstate', 'P0001'),
                       jsonb_build_object('message', 'transition refused: p_to: unknown state ''unknown_state''',
                                          'sqlstate', '22023')),
                   format('%s: each refusal is one warning line', p_table));
    RETURN NEXT is(etl_tap.state_of(p_table, v_id), 'valid', format('%s: the history still ends in the row''s state', p_table));
END
$$;

-- check_guard: a direct UPDATE of state is refused (42501) even for an allowed transition and even
-- right after transition_state opened the guard; other columns update directly. 6 assertions.
CREATE FUNCTION etl_tap.check_guard(p_table text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := etl_tap.new_row(p_table, etl_tap.new_org());
    v_message text := format('state of etl_api.%s changes only through etl_api.transition_state', p_table);
    v_env jsonb;
BEGIN
    RETURN NEXT throws_ok(format('UPDATE etl_api.%I SET state = %L WHERE id = %L', p_table, 'valid', v_id),
                          '42501', v_message, format('%s: UPDATE SET state = valid directly is refused (42501)', p_table));
    RETURN NEXT throws_ok(format('UPDATE etl_api.%I SET state = %L, payload = %L WHERE id = %L', p_table, 'done', '{"x": 1}', v_id),
                          '42501', v_message, format('%s: a state change hidden among other columns is refused', p_table));
    RETURN NEXT lives_ok(format('UPDATE etl_api.%I SET payload = %L, state_changed_at = now() - interval %L WHERE id = %L',
                                p_table, '{"direct": true}', '1 hour', v_id),
                         format('%s: updating other columns directly works', p_table));
    RETURN NEXT is(etl_tap.state_of(p_table, v_id) || ' ' || etl_tap.history_of(v_id)::text, 'new []',
                   format('%s: the refused direct updates left state new and no history', p_table));
    EXECUTE format('SELECT payload FROM etl_api.%I WHERE id = $1', p_table) INTO v_env USING v_id;
    RETURN NEXT is(v_env, '{"direct": true}'::jsonb, format('%s: the direct update of payload was applied', p_table));
    v_env := etl_api.transition_state(p_table, v_id, 'valid');
    RETURN NEXT throws_ok(format('UPDATE etl_api.%I SET state = %L WHERE id = %L', p_table, 'ready', v_id),
                          '42501', v_message, format('%s: the guard is closed again after a transition in the same transaction', p_table));
END
$$;

-- ---------------------------------------------------------------------------------------------
-- History and log per transition, on each table (2 per step + 3 per table = 46), refusals (4 x 4)
-- ---------------------------------------------------------------------------------------------
SELECT etl_tap.reset();
SELECT * FROM etl_tap.check_history('activity_request', ARRAY['new', 'valid', 'ready', 'in_progress', 'done', 'delivered']);
SELECT * FROM etl_tap.check_history('run_queue', ARRAY['new', 'valid', 'waiting', 'ready', 'in_progress', 'timedout']);
SELECT * FROM etl_tap.check_history('run_request', ARRAY['new', 'valid', 'ready', 'in_progress', 'failed']);
SELECT * FROM etl_tap.check_history('workflow_request', ARRAY['new', 'valid', 'waiting', 'invalid']);
SELECT * FROM etl_tap.check_refusals('activity_request');
SELECT * FROM etl_tap.check_refusals('run_queue');
SELECT * FROM etl_tap.check_refusals('run_request');
SELECT * FROM etl_tap.check_refusals('workflow_request');

-- Over everything above: one history row per successful transition, and for every row the last
-- history entry is its state (2).
SELECT is((SELECT count(*) FROM etl_api.state_history),
          (SELECT count(*) FROM etl_api.etl_log WHERE level = 'info'),
          'as many history rows as info log lines');
SELECT set_eq(
    $$SELECT DISTINCT ON (row_id) row_id, to_state FROM etl_api.state_history ORDER BY row_id, id DESC$$,
    $$SELECT id, state FROM etl_api.all_states WHERE id IN (SELECT row_id FROM etl_api.state_history)$$,
    'every row''s history ends in its current state');

-- ---------------------------------------------------------------------------------------------
-- The guard trigger on each table (4 x 6)
-- ---------------------------------------------------------------------------------------------
SELECT etl_tap.reset();
SELECT * FROM etl_tap.check_guard('activity_request');
SELECT * FROM etl_tap.check_guard('run_queue');
SELECT * FROM etl_tap.check_guard('run_request');
SELECT * FROM etl_tap.check_guard('workflow_request');

-- The trigger exists on the four tables and fires only for UPDATE OF state (2).
SELECT set_eq(
    $$SELECT c.relname::text, t.tgname::text FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE t.tgfoid = 'etl_api.guard_state_column()'::regprocedure$$,
    $$VALUES ('activity_request', 'activity_request_guard_state'), ('run_queue', 'run_queue_guard_state'),
             ('run_request', 'run_request_guard_state'), ('workflow_request', 'workflow_request_guard_state')$$,
    'the guard trigger is on the four state tables');
-- tgtype 19 = ROW (1) | BEFORE (2) | UPDATE (16); tgattr lists the state column alone.
SELECT ok(bool_and(t.tgtype = 19 AND t.tgattr::text = (SELECT attnum::text FROM pg_attribute
                                                       WHERE attrelid = t.tgrelid AND attname = 'state')),
          'each guard trigger is BEFORE UPDATE OF state, FOR EACH ROW')
  FROM pg_trigger t WHERE t.tgfoid = 'etl_api.guard_state_column()'::regprocedure;

SELECT * FROM finish();
ROLLBACK;
