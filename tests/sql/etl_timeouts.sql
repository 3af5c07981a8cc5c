-- pgTAP: etl_api.mark_timedout (20261123030100_etl_functions.sql): in_progress and waiting rows
-- past their deadline (substate 'deadline') or whose state is older than the interval (substate
-- 'stale') move to timedout and are counted, with a history row each (reason 'mark_timedout');
-- rows in other states, or not yet due, are untouched; a non-positive interval is 22023.
-- Rows are made old by setting state_changed_at directly (only the state column is guarded);
-- now() is this transaction's start, which is what mark_timedout compares with.
-- Setup helpers live in the schema etl_tap, created inside this transaction and rolled back.
BEGIN;
SELECT plan(25);

\ir etl_fixture.psql

-- new_row: a row inserted directly in a state, with a deadline and an age of its state.
CREATE FUNCTION etl_tap.new_row(p_table text, p_org uuid, p_state text, p_deadline timestamptz, p_age interval)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := gen_random_uuid();
BEGIN
    EXECUTE format('INSERT INTO etl_api.%I (id, org_id, %I, state, deadline) VALUES ($1, $2, %L, $3::etl_api.%I, $4)',
                   p_table,
                   CASE p_table WHEN 'workflow_request' THEN 'workflow_type' WHEN 'activity_request' THEN 'activity_type'
                                WHEN 'run_queue' THEN 'run_type' ELSE 'source' END,
                   'tap_fixture', p_table || '_state')
        USING v_id, p_org, p_state, p_deadline;
    -- Aging the state is a direct update of another column: allowed.
    EXECUTE format('UPDATE etl_api.%I SET state_changed_at = now() - $2 WHERE id = $1', p_table) USING v_id, p_age;
    RETURN v_id;
END
$$;

-- The fixture: name, table, state, deadline, age of the state, and what mark_timedout('30
-- minutes') must leave (state/substate).
CREATE TABLE etl_tap.fixture (
    name text PRIMARY KEY, table_name text, state text, deadline timestamptz, age interval, expected text, id uuid
);
INSERT INTO etl_tap.fixture (name, table_name, state, deadline, age, expected) VALUES
    -- due: past the deadline
    ('activity in_progress past deadline', 'activity_request', 'in_progress', now() - interval '1 minute', '0', 'timedout/deadline'),
    ('workflow waiting past deadline', 'workflow_request', 'waiting', now() - interval '1 day', '5 minutes', 'timedout/deadline'),
    -- due: stale (no deadline, or a deadline still ahead)
    ('run_queue waiting stale', 'run_queue', 'waiting', NULL, '2 hours', 'timedout/stale'),
    ('run_request in_progress stale, deadline ahead', 'run_request', 'in_progress', now() + interval '1 day', '31 minutes',
     'timedout/stale'),
    -- due both ways: the deadline wins as the substate
    ('run_request in_progress stale and past deadline', 'run_request', 'in_progress', now() - interval '1 hour', '3 hours',
     'timedout/deadline'),
    -- not due yet
    ('activity in_progress fresh', 'activity_request', 'in_progress', NULL, '0', 'in_progress/'),
    ('run_queue in_progress deadline ahead', 'run_queue', 'in_progress', now() + interval '1 hour', '29 minutes', 'in_progress/'),
    ('workflow waiting 29 minutes', 'workflow_request', 'waiting', NULL, '29 minutes', 'waiting/'),
    -- other states: never, however old or late
    ('activity new', 'activity_request', 'new', now() - interval '1 day', '2 days', 'new/'),
    ('run_queue valid', 'run_queue', 'valid', now() - interval '1 day', '2 days', 'valid/'),
    ('run_request ready', 'run_request', 'ready', now() - interval '1 day', '2 days', 'ready/'),
    ('workflow done', 'workflow_request', 'done', now() - interval '1 day', '2 days', 'done/'),
    ('activity failed', 'activity_request', 'failed', now() - interval '1 day', '2 days', 'failed/'),
    ('run_queue invalid', 'run_queue', 'invalid', now() - interval '1 day', '2 days', 'invalid/'),
    ('run_request delivered', 'run_request', 'delivered', now() - interval '1 day', '2 days', 'delivered/'),
    ('workflow timedout', 'workflow_request', 'timedout', now() - interval '1 day', '2 days', 'timedout/');

SELECT etl_tap.reset();
WITH org AS (SELECT etl_tap.new_org() AS id)
UPDATE etl_tap.fixture f SET id = etl_tap.new_row(f.table_name, org.id, f.state, f.deadline, f.age) FROM org;

CREATE VIEW etl_tap.outcome AS
    SELECT f.name, s.state || '/' || coalesce(s.state_substate, '') AS state, f.expected
      FROM etl_tap.fixture f JOIN etl_api.all_states s ON s.id = f.id;

-- ---------------------------------------------------------------------------------------------
-- Bad input first: nothing moved (3)
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT etl_api.mark_timedout(interval '0')$$, '22023', 'p_older_than: must be a positive interval',
                 'a zero interval is rejected (22023)');
SELECT throws_ok($$SELECT etl_api.mark_timedout(interval '-5 minutes')$$, '22023', 'p_older_than: must be a positive interval',
                 'a negative interval is rejected (22023)');
SELECT is((SELECT count(*) FROM etl_tap.outcome o JOIN etl_tap.fixture f USING (name) WHERE o.state = f.state || '/')
           + (SELECT count(*) FROM etl_api.state_history), 16::bigint,
          'the rejected calls moved nothing');

-- ---------------------------------------------------------------------------------------------
-- One run: 5 rows moved, each the right way (1 + 16 + 2)
-- ---------------------------------------------------------------------------------------------
SELECT is(etl_api.mark_timedout(interval '30 minutes'), 5, 'mark_timedout(30 minutes) moves and counts the 5 due rows');

SELECT is(state, expected, name) FROM etl_tap.outcome ORDER BY name;

SELECT set_eq(
    $$SELECT h.table_name, h.row_id, h.from_state, h.to_state, h.substate, h.reason FROM etl_api.state_history h$$,
    $$SELECT f.table_name, f.id, f.state AS from_state, 'timedout' AS to_state, split_part(f.expected, '/', 2) AS substate,
             'mark_timedout' AS reason
        FROM etl_tap.fixture f WHERE f.expected LIKE 'timedout/%' AND f.state <> 'timedout'$$,
    'one history row per moved row: (table, id, from, timedout, substate, mark_timedout), nothing else');
SELECT is((SELECT jsonb_build_object('message', message, 'counts', context->'counts') FROM etl_api.etl_log
            WHERE level = 'warning'),
          '{"message": "mark_timedout moved 5 rows to timedout",
            "counts": {"activity_request": 1, "run_queue": 1, "run_request": 2, "workflow_request": 1}}'::jsonb,
          'the run is logged once, with the counts per table');

-- ---------------------------------------------------------------------------------------------
-- Afterwards (3)
-- ---------------------------------------------------------------------------------------------
SELECT is(etl_api.mark_timedout(interval '30 minutes'), 0, 'a second run finds nothing to move');
SELECT throws_ok(format('UPDATE etl_api.activity_request SET state = %L WHERE id = %L', 'done',
                        (SELECT id FROM etl_tap.fixture WHERE name = 'activity in_progress fresh')),
                 '42501', NULL, 'the guard is closed again after mark_timedout');
SELECT is(etl_api.mark_timedout(interval '1 minute'), 2,
          'a shorter interval catches the rows that were not yet due (29 minutes old)');

SELECT * FROM finish();
ROLLBACK;
