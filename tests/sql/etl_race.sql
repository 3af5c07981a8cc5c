-- pgTAP: racing transitions (etl_api.transition_state locks the row with SELECT ... FOR UPDATE
-- before it reads the state, so of two conflicting transitions the second is judged against the
-- first's result).
--   1. Conflicting transitions applied one after the other, as the row lock serialises them:
--      exactly one wins, the others are refused naming the winner's state, history matches.
--   2. With dblink (when the server has it): real second sessions.
--      a. Session A (this test's transaction) holds the row; session B, through dblink, tries a
--         conflicting transition with a short session lock_timeout and fails with a lock timeout
--         (55P03, retryable). transition_state pins its own lock_timeout (5s, docs/sql-conventions.md),
--         which overrides the session's, so B waits those 5 seconds.
--      b. Two dblink sessions, both committing: B blocks behind A's uncommitted transition, A
--         commits, B is then refused against A's result.
--      c. mark_timedout skips (SKIP LOCKED) a due row another session has locked, and takes it
--         once that session lets go.
--      The rows for 2 must be committed (B cannot see this transaction's rows), so they are
--      created through a separate dblink connection and deleted explicitly at the end.
-- Setup helpers live in the schema etl_tap, created inside this transaction and rolled back.
BEGIN;
SELECT plan(48);

\ir etl_fixture.psql
\ir etl_fixture_rows.psql

-- dblink, when the server ships it: installed inside this transaction (rolled back with it). Why
-- it is not usable, if it is not, goes to etl_tap.no_dblink for the skip() below.
DO $$
DECLARE
    v_schema name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'dblink') THEN
        PERFORM set_config('etl_tap.no_dblink',
                           'dblink is not available on this server (a PostgreSQL contrib module; Debian: postgresql-15)', true);
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS dblink SCHEMA etl_tap;
    EXCEPTION WHEN insufficient_privilege THEN
        PERFORM set_config('etl_tap.no_dblink', 'dblink cannot be installed by ' || current_user || ': ' || SQLERRM, true);
        RETURN;
    END;
    SELECT n.nspname INTO v_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'dblink';
    PERFORM set_config('search_path', current_setting('search_path') || ', ' || quote_ident(v_schema), true);
END
$$;

CREATE FUNCTION etl_tap.state_of(p_table text, p_id uuid) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
BEGIN
    EXECUTE format('SELECT state::text FROM etl_api.%I WHERE id = $1', p_table) INTO v_state USING p_id;
    RETURN v_state;
END
$$;

-- race_in_order: a row is brought to p_start through transition_state, then every p_targets is
-- tried in order, as the row lock would serialise concurrent callers. The first must win, every
-- later one be refused against the winner's state, and the history end in it. 5 assertions.
CREATE FUNCTION etl_tap.race_in_order(p_table text, p_start text[], p_targets text[]) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := etl_tap.new_row(p_table, etl_tap.new_org());
    v_env jsonb;
    v_winners text[] := ARRAY[]::text[];
    v_refusals text[] := ARRAY[]::text[];
    v_expected_refusals text[] := ARRAY[]::text[];
    v_name text := format('%s: %s from %s', p_table, array_to_string(p_targets, ' vs '), p_start[array_upper(p_start, 1)]);
BEGIN
    FOR i IN 2 .. array_length(p_start, 1) LOOP
        PERFORM etl_api.transition_state(p_table, v_id, p_start[i]);
    END LOOP;
    FOREACH v_env IN ARRAY ARRAY(SELECT etl_api.transition_state(p_table, v_id, t, NULL, 'racer ' || n)
                                   FROM unnest(p_targets) WITH ORDINALITY AS u(t, n) ORDER BY n) LOOP
        IF (v_env->>'success')::boolean THEN
            v_winners := v_winners || (v_env->>'to');
        ELSE
            v_refusals := v_refusals || (v_env->>'error');
        END IF;
    END LOOP;
    FOR i IN 2 .. array_length(p_targets, 1) LOOP
        v_expected_refusals := v_expected_refusals
            || format('Invalid state transition from %s to %s', p_targets[1], p_targets[i]);
    END LOOP;
    RETURN NEXT is(v_winners, ARRAY[p_targets[1]], v_name || ': exactly one wins, the first');
    RETURN NEXT is(v_refusals, v_expected_refusals, v_name || ': every other is refused against the winner''s state');
    RETURN NEXT is(etl_tap.state_of(p_table, v_id), p_targets[1], v_name || ': the row is in the winner''s state');
    RETURN NEXT is((SELECT array_agg(to_state ORDER BY id) FROM etl_api.state_history WHERE row_id = v_id),
                   p_start[2:] || p_targets[1], v_name || ': the history has the winner once, and ends in the row''s state');
    RETURN NEXT is((SELECT count(*) FROM etl_api.state_history WHERE row_id = v_id AND reason LIKE 'racer %'), 1::bigint,
                   v_name || ': only the winner was recorded');
END
$$;

-- ---------------------------------------------------------------------------------------------
-- 1. Serialised races (6 x 5)
-- ---------------------------------------------------------------------------------------------
SELECT etl_tap.reset();
SELECT * FROM etl_tap.race_in_order('activity_request', ARRAY['new', 'valid', 'ready', 'in_progress'], ARRAY['done', 'failed']);
SELECT * FROM etl_tap.race_in_order('run_queue', ARRAY['new', 'valid', 'ready', 'in_progress'], ARRAY['failed', 'done']);
SELECT * FROM etl_tap.race_in_order('run_request', ARRAY['new', 'valid', 'ready', 'in_progress'], ARRAY['timedout', 'done', 'failed']);
SELECT * FROM etl_tap.race_in_order('workflow_request', ARRAY['new', 'valid', 'waiting'], ARRAY['ready', 'invalid', 'timedout']);
SELECT * FROM etl_tap.race_in_order('run_queue', ARRAY['new'], ARRAY['valid', 'invalid']);
SELECT * FROM etl_tap.race_in_order('activity_request', ARRAY['new', 'valid', 'ready', 'in_progress', 'done'],
                                    ARRAY['delivered', 'delivered']);

-- ---------------------------------------------------------------------------------------------
-- 2. Real second sessions through dblink (18, or 18 skipped)
-- ---------------------------------------------------------------------------------------------
-- conninfo: this very database on this server, for dblink's own libpq connections.
CREATE FUNCTION etl_tap.conninfo(p_name text) RETURNS text LANGUAGE sql AS $$
    SELECT format('dbname=%s user=%s port=%s application_name=%s', current_database(), current_user,
                  current_setting('port'), p_name)
           || coalesce(' host=' || host(inet_server_addr()), '')
$$;

-- call: one transition_state through a dblink connection, its envelope.
CREATE FUNCTION etl_tap.remote_transition(p_conn text, p_id uuid, p_to text, p_reason text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_env jsonb;
BEGIN
    SELECT r INTO v_env FROM dblink(p_conn, format('SELECT etl_api.transition_state(%L, %L, %L, NULL, %L)',
                                                   'run_queue', p_id, p_to, p_reason)) AS t(r jsonb);
    RETURN v_env;
END
$$;

CREATE FUNCTION etl_tap.race_with_dblink() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    v_org uuid := gen_random_uuid();
    v_held uuid := gen_random_uuid();      -- 2a: held by this transaction
    v_committed uuid := gen_random_uuid(); -- 2b: raced by two committing sessions
    v_stale uuid := gen_random_uuid();     -- 2c: due for mark_timedout, locked by another session
    v_error text;
    -- 2a
    v_a jsonb; v_a_state text; v_a_last text; v_b jsonb; v_b_waited interval; v_b_saw text;
    v_t0 timestamptz;
    -- 2b
    v_a2 jsonb; v_b2 jsonb; v_b2_pid integer; v_b2_blocked boolean := false;
    -- 2c
    v_skipped text; v_taken text;
    -- afterwards
    v_after_held text; v_held_history bigint; v_held_warnings jsonb;
    v_after_committed text; v_committed_history jsonb; v_committed_log jsonb;
    v_leftovers bigint;
BEGIN
    IF coalesce(current_setting('etl_tap.no_dblink', true), '') <> '' THEN
        RETURN NEXT skip(current_setting('etl_tap.no_dblink'), 18);
        RETURN;
    END IF;

    BEGIN
        PERFORM dblink_connect('etl_tap_setup', etl_tap.conninfo('etl_tap_setup'));
        PERFORM dblink_connect('etl_tap_a', etl_tap.conninfo('etl_tap_a'));
        PERFORM dblink_connect('etl_tap_b', etl_tap.conninfo('etl_tap_b'));
        -- Committed fixture: one org, three run_queue rows in in_progress (the third two hours old).
        PERFORM dblink_exec('etl_tap_setup', format(
            $sql$INSERT INTO public.organizations (id, name) VALUES (%1$L, 'pgTAP dblink race');
                 INSERT INTO etl_api.run_queue (id, org_id, run_type, state, state_changed_at)
                 VALUES (%2$L, %1$L, 'tap_race', 'in_progress', now()), (%3$L, %1$L, 'tap_race', 'in_progress', now()),
                        (%4$L, %1$L, 'tap_race', 'in_progress', now() - interval '2 hours')$sql$,
            v_org, v_held, v_committed, v_stale));

        -- 2a. Session A is this transaction, inside a subtransaction so that its row lock is
        -- released (and its writes undone) before the committed rows are cleaned up.
        BEGIN
            v_a := etl_api.transition_state('run_queue', v_held, 'done', NULL, 'session A');
            PERFORM dblink_exec('etl_tap_b', 'SET lock_timeout = ''100ms''');
            v_t0 := clock_timestamp();
            v_b := etl_tap.remote_transition('etl_tap_b', v_held, 'failed', 'session B');
            v_b_waited := clock_timestamp() - v_t0;
            SELECT s INTO v_b_saw FROM dblink('etl_tap_b', format('SELECT state::text FROM etl_api.run_queue WHERE id = %L',
                                                                  v_held)) AS t(s text);
            v_a_state := etl_tap.state_of('run_queue', v_held);
            SELECT to_state INTO v_a_last FROM etl_api.state_history WHERE row_id = v_held ORDER BY id DESC LIMIT 1;
            RAISE EXCEPTION 'undo session A' USING ERRCODE = 'TAPRB';
        EXCEPTION WHEN SQLSTATE 'TAPRB' THEN
            NULL;
        END;

        -- 2b. Sessions A and B both through dblink. A transitions in an open transaction; B's
        -- conflicting call blocks on the row lock; A commits; B is judged against A's result.
        PERFORM dblink_exec('etl_tap_a', 'BEGIN');
        v_a2 := etl_tap.remote_transition('etl_tap_a', v_committed, 'done', 'session A');
        SELECT p INTO v_b2_pid FROM dblink('etl_tap_b', 'SELECT pg_backend_pid()') AS t(p integer);
        PERFORM dblink_send_query('etl_tap_b', format('SELECT etl_api.transition_state(%L, %L, %L, NULL, %L)',
                                                      'run_queue', v_committed, 'failed', 'session B'));
        FOR i IN 1 .. 400 LOOP  -- up to 4s (B's own lock_timeout is 5s)
            v_b2_blocked := EXISTS (SELECT 1 FROM pg_locks WHERE pid = v_b2_pid AND NOT granted);
            EXIT WHEN v_b2_blocked;
            PERFORM pg_sleep(0.01);
        END LOOP;
        PERFORM dblink_exec('etl_tap_a', 'COMMIT');
        SELECT r INTO v_b2 FROM dblink_get_result('etl_tap_b') AS t(r jsonb);
        PERFORM * FROM dblink_get_result('etl_tap_b') AS t(r jsonb);  -- the end of B's results

        -- 2c. Session A locks the stale row; mark_timedout here skips it, then takes it once A
        -- rolls back. Undone afterwards, like 2a, so this transaction holds no committed row.
        BEGIN
            PERFORM dblink_exec('etl_tap_a', 'BEGIN');
            PERFORM * FROM dblink('etl_tap_a', format('SELECT id FROM etl_api.run_queue WHERE id = %L FOR UPDATE', v_stale))
                        AS t(id uuid);
            v_skipped := etl_api.mark_timedout(interval '30 minutes') || ' ' || etl_tap.state_of('run_queue', v_stale);
            PERFORM dblink_exec('etl_tap_a', 'ROLLBACK');
            v_taken := etl_api.mark_timedout(interval '30 minutes');
            -- (a statement of its own: a subquery in the line above would read the row as it was)
            v_taken := v_taken || ' ' || (SELECT state || '/' || coalesce(state_substate, '')
                                            FROM etl_api.run_queue WHERE id = v_stale);
            RAISE EXCEPTION 'undo mark_timedout' USING ERRCODE = 'TAPRB';
        EXCEPTION WHEN SQLSTATE 'TAPRB' THEN
            NULL;
        END;
    EXCEPTION WHEN OTHERS THEN
        v_error := SQLSTATE || ': ' || SQLERRM;
    END;

    -- What is committed now (this transaction sees other sessions' commits statement by statement).
    v_after_held := etl_tap.state_of('run_queue', v_held);
    SELECT count(*) INTO v_held_history FROM etl_api.state_history WHERE row_id = v_held;
    SELECT jsonb_agg(jsonb_build_object('sqlstate', context->>'sqlstate', 'to', context->>'to') ORDER BY id)
      INTO v_held_warnings FROM etl_api.etl_log WHERE level = 'warning' AND context->>'id' = v_held::text;
    v_after_committed := etl_tap.state_of('run_queue', v_committed);
    SELECT jsonb_agg(jsonb_build_array(from_state, to_state, reason) ORDER BY id) INTO v_committed_history
      FROM etl_api.state_history WHERE row_id = v_committed;
    SELECT jsonb_agg(jsonb_build_array(level, context->>'to') ORDER BY id) INTO v_committed_log
      FROM etl_api.etl_log WHERE context->>'id' = v_committed::text;

    -- Cleanup of the committed rows, whatever happened above: the sessions A and B are closed
    -- first (closing ends any transaction of theirs and frees its locks).
    BEGIN
        IF 'etl_tap_a' = ANY(coalesce(dblink_get_connections(), '{}')) THEN PERFORM dblink_disconnect('etl_tap_a'); END IF;
        IF 'etl_tap_b' = ANY(coalesce(dblink_get_connections(), '{}')) THEN PERFORM dblink_disconnect('etl_tap_b'); END IF;
        PERFORM dblink_exec('etl_tap_setup', format(
            $sql$SET lock_timeout = '10s';
                 DELETE FROM etl_api.state_history WHERE row_id IN (%1$L, %2$L, %4$L);
                 DELETE FROM etl_api.etl_log WHERE context->>'id' IN (%1$L, %2$L, %4$L);
                 DELETE FROM public.organizations WHERE id = %3$L$sql$, v_held, v_committed, v_org, v_stale));
        PERFORM dblink_disconnect('etl_tap_setup');
    EXCEPTION WHEN OTHERS THEN
        v_error := coalesce(v_error || '; ', '') || 'cleanup: ' || SQLSTATE || ': ' || SQLERRM;
    END;
    SELECT (SELECT count(*) FROM public.organizations WHERE id = v_org)
           + (SELECT count(*) FROM etl_api.org WHERE id = v_org)
           + (SELECT count(*) FROM etl_api.run_queue WHERE id IN (v_held, v_committed, v_stale))
           + (SELECT count(*) FROM etl_api.state_history WHERE row_id IN (v_held, v_committed, v_stale))
           + (SELECT count(*) FROM etl_api.etl_log WHERE context->>'id' IN (v_held::text, v_committed::text, v_stale::text))
      INTO v_leftovers;

    RETURN NEXT is(v_error, NULL, 'the dblink race ran without an error');
    -- 2a (8)
    RETURN NEXT is(v_a->>'success', 'true', 'session A: in_progress -> done succeeds on the committed row');
    RETURN NEXT is(v_a_state || ' ' || v_a_last, 'done done', 'session A: sees done, and its history ends in done');
    RETURN NEXT is(v_b - 'error_detail',
                   '{"success": false, "error": "Operation conflict, please retry", "error_code": "55P03",
                     "retry_recommended": true}'::jsonb,
                   'session B: in_progress -> failed fails with a lock timeout (55P03, retryable)');
    RETURN NEXT is(v_b->>'error_detail', 'canceling statement due to lock timeout', 'session B: the error is the lock timeout');
    RETURN NEXT ok(v_b_waited >= interval '4.9 seconds',
                   format('session B waited the function''s own lock_timeout (5s), not its session''s 100ms (waited %s)',
                          v_b_waited));
    RETURN NEXT is(v_b_saw, 'in_progress', 'session B: the row is still in_progress for everyone else');
    RETURN NEXT is(v_after_held || ' ' || v_held_history, 'in_progress 0',
                   'once A is undone the row is in_progress with no history: B changed nothing');
    RETURN NEXT is(v_held_warnings, '[{"sqlstate": "55P03", "to": "failed"}]'::jsonb,
                   'session B''s refusal was logged once, as a lock timeout');
    -- 2b (6)
    RETURN NEXT is(v_a2->>'success', 'true', 'committing sessions: A''s in_progress -> done succeeds');
    RETURN NEXT ok(v_b2_blocked, 'committing sessions: B waited for A''s row lock');
    RETURN NEXT is(v_b2 - 'error_detail',
                   '{"success": false, "error": "Invalid state transition from done to failed", "error_code": "P0001",
                     "retry_recommended": false}'::jsonb,
                   'committing sessions: B is refused against A''s committed result (done -> failed)');
    RETURN NEXT is(v_after_committed, 'done', 'committing sessions: the row is done');
    RETURN NEXT is(v_committed_history, '[["in_progress", "done", "session A"]]'::jsonb,
                   'committing sessions: the history has A''s transition only and ends in done');
    RETURN NEXT is(v_committed_log, '[["info", "done"], ["warning", "failed"]]'::jsonb,
                   'committing sessions: one info line for A, one warning line for B');
    -- 2c (2)
    RETURN NEXT is(v_skipped, '0 in_progress', 'mark_timedout skips a due row another session has locked (SKIP LOCKED)');
    RETURN NEXT is(v_taken, '1 timedout/stale', 'mark_timedout takes it once that session has let go');
    -- cleanup (1)
    RETURN NEXT is(v_leftovers, 0::bigint, 'the committed fixture rows were cleaned up');
END
$$;

SELECT * FROM etl_tap.race_with_dblink();

SELECT * FROM finish();
ROLLBACK;
