-- pgTAP: the ETL state machine (20261123030100_etl_functions.sql): all 100 (from, to) pairs of
-- the ten states against etl_api.is_valid_state_transition, and etl_api.transition_state on each
-- of the four tables: every allowed transition succeeds with the envelope, disallowed ones and
-- bad input are refused with the right error code and leave the row as it was.
-- Setup helpers live in the schema etl_tap, created inside this transaction and rolled back.
BEGIN;
SELECT plan(239);

\ir etl_fixture.psql
\ir etl_fixture_rows.psql

-- The transitions the issue allows, written out independently of the function under test.
CREATE TABLE etl_tap.allowed (from_state text, to_state text, PRIMARY KEY (from_state, to_state));
INSERT INTO etl_tap.allowed VALUES
    ('new', 'valid'), ('new', 'invalid'),
    ('valid', 'ready'), ('valid', 'waiting'),
    ('ready', 'in_progress'),
    ('in_progress', 'done'), ('in_progress', 'failed'), ('in_progress', 'timedout'),
    ('waiting', 'ready'), ('waiting', 'invalid'), ('waiting', 'timedout'),
    ('done', 'delivered');

-- new_row: a row of one of the four tables, inserted directly in the given state (INSERT is not
-- guarded; only UPDATE OF state is).

-- row_image: everything transition_state may change on a row, to show a refusal changed nothing.
CREATE FUNCTION etl_tap.row_image(p_table text, p_id uuid) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_image text;
BEGIN
    EXECUTE format('SELECT row(state, state_substate, state_changed_at, updated_at)::text FROM etl_api.%I WHERE id = $1',
                   p_table) INTO v_image USING p_id;
    RETURN v_image;
END
$$;

-- walk: transitions a row along p_path (its first element is the row's current state) and
-- checks every step's envelope exactly: success, table, id, from, to, substate and "at" (the
-- row's new state_changed_at). One assertion per step.
CREATE FUNCTION etl_tap.walk(p_table text, p_id uuid, p_path text[]) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    v_env jsonb;
    v_at timestamptz;
BEGIN
    FOR i IN 2 .. array_length(p_path, 1) LOOP
        v_env := etl_api.transition_state(p_table, p_id, p_path[i], 'step_' || p_path[i], 'pgTAP walk');
        EXECUTE format('SELECT state_changed_at FROM etl_api.%I WHERE id = $1', p_table) INTO v_at USING p_id;
        RETURN NEXT is(v_env,
                       jsonb_build_object('success', true, 'table', p_table, 'id', p_id, 'from', p_path[i - 1],
                                          'to', p_path[i], 'substate', 'step_' || p_path[i], 'at', v_at),
                       format('%s: %s -> %s succeeds with the envelope {from, to}', p_table, p_path[i - 1], p_path[i]));
    END LOOP;
END
$$;

-- check_table: the allowed transitions (all 12, over six rows), the refusals and bad input on
-- one table. 32 assertions.
CREATE FUNCTION etl_tap.check_table(p_table text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    v_org uuid := etl_tap.new_org();
    v_done uuid := etl_tap.new_row(p_table, v_org);
    v_fresh uuid := etl_tap.new_row(p_table, v_org);
    v_missing uuid := gen_random_uuid();
    v_rows uuid[] := ARRAY[]::uuid[];
    v_env jsonb;
    v_before text;
    v_id uuid;
    v_paths text[][] := ARRAY[
        ['new', 'valid', 'ready', 'in_progress', 'done', 'delivered'],
        ['new', 'invalid', NULL, NULL, NULL, NULL],
        ['new', 'valid', 'waiting', 'ready', 'in_progress', 'failed'],
        ['new', 'valid', 'waiting', 'invalid', NULL, NULL],
        ['new', 'valid', 'waiting', 'timedout', NULL, NULL],
        ['new', 'valid', 'ready', 'in_progress', 'timedout', NULL]];
    v_path text[];
    v_fresh_image text := etl_tap.row_image(p_table, v_fresh);
BEGIN
    -- Every allowed transition, each on a row in the right state (21 steps).
    FOR i IN 1 .. array_length(v_paths, 1) LOOP
        v_id := CASE WHEN i = 1 THEN v_done ELSE etl_tap.new_row(p_table, v_org) END;
        v_rows := v_rows || v_id;
        SELECT array_agg(s ORDER BY n) INTO v_path
          FROM unnest(v_paths[i:i][1:6]) WITH ORDINALITY AS u(s, n) WHERE s IS NOT NULL;
        RETURN QUERY SELECT * FROM etl_tap.walk(p_table, v_id, v_path);
    END LOOP;
    RETURN NEXT set_eq(
        format($q$SELECT DISTINCT from_state, to_state FROM etl_api.state_history WHERE table_name = %L$q$, p_table),
        'SELECT from_state, to_state FROM etl_tap.allowed',
        format('%s: the walks took each of the 12 allowed transitions', p_table));
    RETURN NEXT set_eq(
        format($q$SELECT id, state::text FROM etl_api.%I WHERE id = ANY(%L)$q$, p_table, v_rows),
        format($q$SELECT * FROM unnest(%L::uuid[], ARRAY['delivered', 'invalid', 'failed', 'invalid', 'timedout', 'timedout']) AS u(id, state)$q$,
               v_rows),
        format('%s: every walked row is in its final state', p_table));

    -- A disallowed transition: the exact failure envelope, the row untouched.
    v_before := etl_tap.row_image(p_table, v_fresh);
    v_env := etl_api.transition_state(p_table, v_fresh, 'done');
    RETURN NEXT is(v_env,
                   jsonb_build_object('success', false, 'error', 'Invalid state transition from new to done',
                                      'error_code', 'P0001',
                                      'error_detail', format('Invalid state transition from new to done (%s %s)', p_table, v_fresh),
                                      'retry_recommended', false),
                   format('%s: new -> done is refused naming both states', p_table));
    RETURN NEXT is(etl_tap.row_image(p_table, v_fresh), v_before, format('%s: the refused row is unchanged', p_table));
    v_env := etl_api.transition_state(p_table, v_fresh, 'new');
    RETURN NEXT is(v_env->>'error', 'Invalid state transition from new to new',
                   format('%s: new -> new (no change) is refused', p_table));
    v_before := etl_tap.row_image(p_table, v_done);
    v_env := etl_api.transition_state(p_table, v_done, 'done');
    RETURN NEXT is(v_env->>'error', 'Invalid state transition from delivered to done',
                   format('%s: delivered -> done (backwards) is refused', p_table));
    RETURN NEXT is(etl_tap.row_image(p_table, v_done), v_before, format('%s: the delivered row is unchanged', p_table));

    -- Unknown state (22023), unknown row (23503): right codes, nothing written.
    v_env := etl_api.transition_state(p_table, v_fresh, 'finished');
    RETURN NEXT is(v_env,
                   '{"success": false, "error": "p_to: unknown state ''finished''", "error_code": "22023",
                     "error_detail": "p_to: unknown state ''finished''", "retry_recommended": false}'::jsonb,
                   format('%s: an unknown state is 22023 naming it', p_table));
    v_env := etl_api.transition_state(p_table, v_fresh, 'VALID');
    RETURN NEXT is(v_env->>'error_code', '22023', format('%s: states are case-sensitive (VALID is unknown)', p_table));
    v_env := etl_api.transition_state(p_table, v_missing, 'valid');
    RETURN NEXT is(v_env - 'error_detail',
                   jsonb_build_object('success', false, 'error', format('%s %s not found', p_table, v_missing),
                                      'error_code', '23503', 'retry_recommended', false),
                   format('%s: a missing row is 23503 naming it', p_table));
    RETURN NEXT is(etl_tap.row_image(p_table, v_fresh), v_fresh_image,
                   format('%s: bad input left the row in new', p_table));
END
$$;

-- ---------------------------------------------------------------------------------------------
-- The ten states, the same on every table (4)
-- ---------------------------------------------------------------------------------------------
SELECT is(enum_range(NULL::etl_api.activity_request_state)::text[],
          ARRAY['new', 'valid', 'invalid', 'waiting', 'ready', 'in_progress', 'timedout', 'failed', 'done', 'delivered'],
          'activity_request_state has the ten states in order');
SELECT is(enum_range(NULL::etl_api.run_queue_state)::text[], enum_range(NULL::etl_api.activity_request_state)::text[],
          'run_queue_state has the same ten states');
SELECT is(enum_range(NULL::etl_api.run_request_state)::text[], enum_range(NULL::etl_api.activity_request_state)::text[],
          'run_request_state has the same ten states');
SELECT is(enum_range(NULL::etl_api.workflow_request_state)::text[], enum_range(NULL::etl_api.activity_request_state)::text[],
          'workflow_request_state has the same ten states');

-- ---------------------------------------------------------------------------------------------
-- All 100 pairs, one assertion each, named by the pair (100 + 3)
-- ---------------------------------------------------------------------------------------------
CREATE VIEW etl_tap.pairs AS
    SELECT f.s::text AS from_state, t.s::text AS to_state, f.i, t.j,
           (f.s::text, t.s::text) IN (SELECT from_state, to_state FROM etl_tap.allowed) AS expected
      FROM unnest(enum_range(NULL::etl_api.activity_request_state)) WITH ORDINALITY AS f(s, i)
     CROSS JOIN unnest(enum_range(NULL::etl_api.activity_request_state)) WITH ORDINALITY AS t(s, j);

SELECT is((SELECT count(*) FROM etl_tap.pairs), 100::bigint, 'the cross join of the ten states has 100 pairs');

SELECT is(etl_api.is_valid_state_transition(from_state, to_state), expected,
          format('%s -> %s is %s', from_state, to_state, CASE WHEN expected THEN 'allowed' ELSE 'refused' END))
  FROM etl_tap.pairs ORDER BY i, j;

SELECT set_eq('SELECT from_state, to_state FROM etl_tap.pairs WHERE etl_api.is_valid_state_transition(from_state, to_state)',
              'SELECT from_state, to_state FROM etl_tap.allowed',
              'exactly the 12 listed transitions are allowed');
SELECT is(etl_api.is_valid_state_transition(NULL, 'valid') OR etl_api.is_valid_state_transition('new', NULL)
              OR etl_api.is_valid_state_transition('new', 'finished') OR etl_api.is_valid_state_transition('NEW', 'valid'),
          false, 'NULL, unknown and wrongly cased states are never valid (false, not NULL)');

-- ---------------------------------------------------------------------------------------------
-- transition_state on each table (4 x 32)
-- ---------------------------------------------------------------------------------------------
SELECT etl_tap.reset();
SELECT * FROM etl_tap.check_table('activity_request');
SELECT * FROM etl_tap.check_table('run_queue');
SELECT * FROM etl_tap.check_table('run_request');
SELECT * FROM etl_tap.check_table('workflow_request');

-- ---------------------------------------------------------------------------------------------
-- Bad input common to all tables (4)
-- ---------------------------------------------------------------------------------------------
SELECT etl_tap.reset();
CREATE TABLE etl_tap.fixture AS
    SELECT etl_tap.new_row('run_queue', etl_tap.new_org()) AS id;

SELECT is(etl_api.transition_state('campaigns', (SELECT id FROM etl_tap.fixture), 'valid'),
          '{"success": false,
            "error": "p_table: must be activity_request, run_queue, run_request or workflow_request, got ''campaigns''",
            "error_code": "22023",
            "error_detail": "p_table: must be activity_request, run_queue, run_request or workflow_request, got ''campaigns''",
            "retry_recommended": false}'::jsonb,
          'an unknown table is 22023 naming it');
SELECT is(etl_api.transition_state(NULL, (SELECT id FROM etl_tap.fixture), 'valid')->>'error_code', '22023',
          'a NULL table is 22023');
SELECT is(etl_api.transition_state('run_queue', NULL, 'valid')->>'error', 'p_id: is required', 'a NULL id is 22023 p_id');
SELECT is(etl_api.transition_state('run_queue', (SELECT id FROM etl_tap.fixture), NULL)->>'error',
          'p_to: unknown state nothing', 'a NULL target state is 22023 p_to');

SELECT * FROM finish();
ROLLBACK;
