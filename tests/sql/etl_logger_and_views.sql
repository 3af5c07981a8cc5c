-- pgTAP: etl_api.logger and the monitoring views of 20261123030100_etl_functions.sql
-- (etl_api.state_counts, state_ages, stuck_rows, transitions_per_hour) over a small fixture.
-- The fixture starts from an empty ETL slate (etl_tap.reset), fixes every state_changed_at,
-- deadline and history "at" relative to now() (this transaction's start, which the views use),
-- and runs in UTC so that hours are deterministic.
-- Setup helpers live in the schema etl_tap, created inside this transaction and rolled back.
BEGIN;
SELECT plan(16);
SET LOCAL timezone = 'UTC';

\ir etl_fixture.psql

-- new_row: a row inserted directly with its state, substate, deadline, state age and deletion.
CREATE FUNCTION etl_tap.new_row(p_name text, p_table text, p_org uuid, p_state text, p_substate text,
                                p_deadline timestamptz, p_age interval, p_deleted boolean DEFAULT false)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := gen_random_uuid();
BEGIN
    EXECUTE format('INSERT INTO etl_api.%I (id, org_id, %I, state, state_substate, deadline, state_changed_at)'
                   ' VALUES ($1, $2, %L, $3::etl_api.%I, $4, $5, now() - $6)',
                   p_table,
                   CASE p_table WHEN 'workflow_request' THEN 'workflow_type' WHEN 'activity_request' THEN 'activity_type'
                                WHEN 'run_queue' THEN 'run_type' ELSE 'source' END,
                   'tap_fixture', p_table || '_state')
        USING v_id, p_org, p_state, p_substate, p_deadline, p_age;
    IF p_deleted THEN
        EXECUTE format('UPDATE etl_api.%I SET deleted_at = now() WHERE id = $1', p_table) USING v_id;
    END IF;
    INSERT INTO etl_tap.rows VALUES (p_name, v_id);
    RETURN v_id;
END
$$;
CREATE TABLE etl_tap.rows (name text PRIMARY KEY, id uuid);

-- ---------------------------------------------------------------------------------------------
-- logger: the five levels (5 + 1), bad input (3)
-- ---------------------------------------------------------------------------------------------
SELECT etl_tap.reset();
CREATE TABLE etl_tap.logged AS
    SELECT l.level, etl_api.logger(l.level, 'message at ' || l.level, jsonb_build_object('level', l.level, 'n', l.n)) AS id
      FROM unnest(ARRAY['debug', 'info', 'warning', 'error', 'critical']) WITH ORDINALITY AS l(level, n);

SELECT is((SELECT jsonb_build_object('level', g.level, 'message', g.message, 'context', g.context)
             FROM etl_api.etl_log g WHERE g.id = t.id),
          jsonb_build_object('level', t.level, 'message', 'message at ' || t.level,
                             'context', jsonb_build_object('level', t.level, 'n', n)),
          format('logger(%L) writes one row with its message and context', t.level))
  FROM (SELECT level, id, row_number() OVER (ORDER BY id) AS n FROM etl_tap.logged) t ORDER BY t.n;
SELECT is((SELECT count(*) FROM etl_api.etl_log), 5::bigint, 'five calls, five rows');

SELECT throws_ok($$SELECT etl_api.logger('verbose', 'x')$$, '22023',
                 'p_level: must be debug, info, warning, error or critical, got ''verbose''', 'an unknown level is 22023 naming it');
SELECT throws_ok($$SELECT etl_api.logger('INFO', 'x')$$, '22023', NULL, 'levels are lower-case (INFO is unknown)');
SELECT throws_ok($$SELECT etl_api.logger('info', '  ')$$, '22023', 'p_message: is required', 'a blank message is 22023');

-- ---------------------------------------------------------------------------------------------
-- The views over a fixture (7)
-- ---------------------------------------------------------------------------------------------
SELECT etl_tap.reset();
CREATE TABLE etl_tap.org AS SELECT etl_tap.new_org() AS id;
CREATE TABLE etl_tap.made AS
SELECT etl_tap.new_row(r.name, r.tbl, org.id, r.state, r.substate, r.deadline, r.age::interval, r.deleted)
  FROM etl_tap.org org, (VALUES
    ('a1', 'activity_request', 'new', NULL, NULL, '10 minutes', false),
    ('a2', 'activity_request', 'new', NULL, NULL, '3 hours', false),
    ('a3', 'activity_request', 'in_progress', NULL, now() - interval '30 minutes', '2 hours', false),
    ('a4', 'activity_request', 'in_progress', NULL, now() - interval '1 day', '2 days', true),   -- deleted: never shown
    ('q1', 'run_queue', 'waiting', NULL, now() - interval '5 minutes', '1 hour', false),
    ('q2', 'run_queue', 'done', NULL, now() - interval '1 day', '1 day', false),               -- done: not stuck
    ('r1', 'run_request', 'in_progress', NULL, now() + interval '1 hour', '4 hours', false),    -- deadline ahead
    ('r2', 'run_request', 'failed', 'http_500', NULL, '20 minutes', false),
    ('r3', 'run_request', 'failed', 'http_500', NULL, '50 minutes', false),
    ('r4', 'run_request', 'failed', NULL, NULL, '5 minutes', false),
    ('w1', 'workflow_request', 'timedout', 'deadline', NULL, '1 minute', false)
  ) AS r(name, tbl, state, substate, deadline, age, deleted);

SELECT set_eq('SELECT table_name, state, rows FROM etl_api.state_counts',
              $$VALUES ('activity_request', 'new', 2::bigint), ('activity_request', 'in_progress', 1),
                       ('run_queue', 'waiting', 1), ('run_queue', 'done', 1),
                       ('run_request', 'in_progress', 1), ('run_request', 'failed', 3),
                       ('workflow_request', 'timedout', 1)$$,
              'state_counts: rows per table and state, deleted rows left out');
SELECT set_eq('SELECT table_name, state, state_substate, rows, oldest_since, oldest_age FROM etl_api.state_ages',
              $$VALUES ('activity_request', 'new', NULL, 2::bigint, now() - interval '3 hours', interval '3 hours'),
                       ('activity_request', 'in_progress', NULL, 1, now() - interval '2 hours', interval '2 hours'),
                       ('run_queue', 'waiting', NULL, 1, now() - interval '1 hour', interval '1 hour'),
                       ('run_queue', 'done', NULL, 1, now() - interval '1 day', interval '1 day'),
                       ('run_request', 'in_progress', NULL, 1, now() - interval '4 hours', interval '4 hours'),
                       ('run_request', 'failed', 'http_500', 2, now() - interval '50 minutes', interval '50 minutes'),
                       ('run_request', 'failed', NULL, 1, now() - interval '5 minutes', interval '5 minutes'),
                       ('workflow_request', 'timedout', 'deadline', 1, now() - interval '1 minute', interval '1 minute')$$,
              'state_ages: rows per state and substate with the oldest one''s time and age');
SELECT set_eq($$SELECT s.table_name, r.name, s.org_id = (SELECT id FROM etl_tap.org), s.state, s.deadline, s.overdue
                 FROM etl_api.stuck_rows s JOIN etl_tap.rows r USING (id)$$,
              $$VALUES ('activity_request', 'a3', true, 'in_progress', now() - interval '30 minutes', interval '30 minutes'),
                       ('run_queue', 'q1', true, 'waiting', now() - interval '5 minutes', interval '5 minutes')$$,
              'stuck_rows: in_progress and waiting rows past their deadline, with how overdue');
SELECT is((SELECT count(*) FROM etl_api.stuck_rows), 2::bigint, 'stuck_rows has nothing else');

-- transitions_per_hour: history rows with fixed times (the history table is not guarded), and
-- one real transition.
INSERT INTO etl_api.state_history (table_name, row_id, org_id, from_state, to_state, reason, at)
SELECT h.tbl, (SELECT id FROM etl_tap.rows WHERE name = h.name), (SELECT id FROM etl_tap.org), h.from_state, h.to_state,
       'fixture', h.at::timestamptz
  FROM (VALUES ('run_request', 'r2', 'in_progress', 'failed', '2026-01-05 10:05:00+00'),
               ('run_request', 'r3', 'in_progress', 'failed', '2026-01-05 10:59:59.999+00'),
               ('run_request', 'r4', 'in_progress', 'failed', '2026-01-05 11:00:00+00'),
               ('run_queue', 'q1', 'valid', 'waiting', '2026-01-05 10:30:00+00'),
               ('activity_request', 'a3', 'ready', 'in_progress', '2026-01-05 10:30:00+00')) AS h(tbl, name, from_state, to_state, at);
SELECT set_eq('SELECT hour, table_name, from_state, to_state, transitions FROM etl_api.transitions_per_hour',
              $$VALUES ('2026-01-05 10:00:00+00'::timestamptz, 'run_request', 'in_progress', 'failed', 2::bigint),
                       ('2026-01-05 11:00:00+00', 'run_request', 'in_progress', 'failed', 1),
                       ('2026-01-05 10:00:00+00', 'run_queue', 'valid', 'waiting', 1),
                       ('2026-01-05 10:00:00+00', 'activity_request', 'ready', 'in_progress', 1)$$,
              'transitions_per_hour: transitions per hour, table and (from, to)');
SELECT is(etl_api.transition_state('run_request', (SELECT id FROM etl_tap.rows WHERE name = 'r1'), 'done')->>'success', 'true',
          'a real transition');
SELECT is((SELECT v.transitions FROM etl_api.transitions_per_hour v JOIN etl_api.state_history h
              ON h.reason IS NULL AND v.hour = date_trunc('hour', h.at) AND v.table_name = h.table_name
             AND v.from_state = h.from_state AND v.to_state = h.to_state),
          1::bigint, 'transitions_per_hour counts it in the hour it happened');

SELECT * FROM finish();
ROLLBACK;
