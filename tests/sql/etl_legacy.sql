-- pgTAP: the legacy status mapping (20261123030100_etl_functions.sql): etl_api.map_legacy_status
-- for every mapping (case-insensitive), unknown statuses named in a 22023; and
-- etl_api.convert_legacy_status on a table given a legacy text column (ALTER TABLE inside this
-- transaction): counts per mapping, all or nothing when a value is unknown.
-- Setup helpers live in the schema etl_tap, created inside this transaction and rolled back.
BEGIN;
SELECT plan(30);

\ir etl_fixture.psql

-- ---------------------------------------------------------------------------------------------
-- map_legacy_status: every mapping (13), the whole map (1), unknown statuses (2)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE etl_tap.mapping (n serial, legacy text, state text, substate text);
INSERT INTO etl_tap.mapping (legacy, state, substate) VALUES
    ('pending', 'new', NULL),
    ('validation', 'valid', NULL),
    ('ACTIVITY_PROCESSED', 'ready', NULL),
    ('waiting', 'waiting', NULL),
    ('running', 'in_progress', NULL),
    ('processing', 'in_progress', NULL),
    ('missing_value', 'invalid', 'missing_value'),
    ('invalid_missing_value', 'invalid', 'missing_value'),
    ('invalid_json', 'invalid', 'invalid_json'),
    ('completed', 'done', NULL),
    ('DONE', 'done', NULL),
    ('done', 'done', NULL),
    ('failed', 'failed', NULL);

SELECT is(format('%s/%s', m.state, coalesce(m.substate, '-')),
          format('%s/%s', e.state, coalesce(e.substate, '-')),
          format('map_legacy_status(%L) = (%s, %s)', e.legacy, e.state, coalesce(e.substate, 'NULL')))
  FROM etl_tap.mapping e CROSS JOIN LATERAL etl_api.map_legacy_status(e.legacy) m
 ORDER BY e.n;

SELECT set_eq('SELECT legacy_status, state, substate FROM etl_api.legacy_status_map',
              'SELECT DISTINCT lower(legacy), state, substate FROM etl_tap.mapping',
              'the map holds exactly these 12 statuses (lower-cased)');

SELECT throws_ok($$SELECT * FROM etl_api.map_legacy_status('archived')$$, '22023',
                 'p_status: unknown legacy status ''archived''', 'an unknown status is 22023 naming it');
SELECT throws_ok($$SELECT * FROM etl_api.map_legacy_status(NULL)$$, '22023',
                 'p_status: unknown legacy status nothing', 'a NULL status is 22023');

-- ---------------------------------------------------------------------------------------------
-- convert_legacy_status on run_queue with a legacy column "status" (9)
-- ---------------------------------------------------------------------------------------------
SELECT etl_tap.reset();
ALTER TABLE etl_api.run_queue ADD COLUMN status text;
CREATE TABLE etl_tap.legacy_rows (id uuid, status text);
WITH org AS (SELECT etl_tap.new_org() AS id),
     seed (status, copies) AS (VALUES ('pending', 2), ('validation', 1), ('activity_processed', 1), ('RUNNING', 1),
                                      ('running', 2), (' processing ', 1), ('waiting', 1), ('missing_value', 1),
                                      ('invalid_missing_value', 2), ('invalid_json', 1), ('completed', 1), ('DONE', 1),
                                      ('failed', 1), (NULL, 1)),
     made AS (
         INSERT INTO etl_api.run_queue (org_id, run_type, status, state_changed_at)
         SELECT org.id, 'legacy', seed.status, now() - interval '1 day'
           FROM org, seed, generate_series(1, seed.copies)
         RETURNING id, status)
INSERT INTO etl_tap.legacy_rows SELECT id, status FROM made;

SELECT bag_eq($$SELECT * FROM etl_api.convert_legacy_status('run_queue')$$,
              $$VALUES ('pending', 'new', NULL, 2::bigint), ('validation', 'valid', NULL, 1),
                       ('activity_processed', 'ready', NULL, 1), ('RUNNING', 'in_progress', NULL, 1),
                       ('running', 'in_progress', NULL, 2), (' processing ', 'in_progress', NULL, 1),
                       ('waiting', 'waiting', NULL, 1), ('missing_value', 'invalid', 'missing_value', 1),
                       ('invalid_missing_value', 'invalid', 'missing_value', 2),
                       ('invalid_json', 'invalid', 'invalid_json', 1), ('completed', 'done', NULL, 1),
                       ('DONE', 'done', NULL, 1), ('failed', 'failed', NULL, 1)$$,
              'convert_legacy_status reports the rows converted per legacy value and mapping');
SELECT is((SELECT count(*) FROM etl_tap.legacy_rows l JOIN etl_api.run_queue q USING (id)
             CROSS JOIN LATERAL etl_api.map_legacy_status(l.status) m
            WHERE l.status IS NOT NULL AND q.state::text = m.state AND q.state_substate IS NOT DISTINCT FROM m.substate),
          16::bigint, 'every row with a legacy status now has its mapped state and substate');
SELECT ok((SELECT bool_and(q.state_changed_at > now() - interval '1 minute') FROM etl_tap.legacy_rows l
             JOIN etl_api.run_queue q USING (id) WHERE l.status IS NOT NULL),
          'converted rows have a new state_changed_at');
SELECT is((SELECT q.state::text || '/' || coalesce(q.state_substate, '') || '/' || (q.state_changed_at < now())::text
             FROM etl_tap.legacy_rows l JOIN etl_api.run_queue q USING (id) WHERE l.status IS NULL),
          'new//true', 'a row without a legacy status is left alone');
SELECT is((SELECT message FROM etl_api.etl_log WHERE level = 'info'), 'converted legacy status column status of run_queue',
          'the conversion is logged');
SELECT throws_ok(format('UPDATE etl_api.run_queue SET state = %L WHERE id = %L', 'valid',
                        (SELECT id FROM etl_tap.legacy_rows WHERE status IS NULL)),
                 '42501', NULL, 'the guard is closed again after the conversion');
SELECT bag_eq($$SELECT * FROM etl_api.convert_legacy_status('run_queue')$$,
              $$SELECT l.status, m.state, m.substate, count(*) FROM etl_tap.legacy_rows l
                 CROSS JOIN LATERAL etl_api.map_legacy_status(l.status) m WHERE l.status IS NOT NULL GROUP BY 1, 2, 3$$,
              'converting again gives the same counts (idempotent)');

-- Unknown values: the call fails naming every unknown value, and changes nothing.
UPDATE etl_api.run_queue SET status = 'Archived' WHERE id IN (SELECT id FROM etl_tap.legacy_rows WHERE status = 'pending');
UPDATE etl_api.run_queue SET status = 'bogus' WHERE id IN (SELECT id FROM etl_tap.legacy_rows WHERE status = 'DONE');
UPDATE etl_api.run_queue SET status = 'pending' WHERE id IN (SELECT id FROM etl_tap.legacy_rows WHERE status IS NULL);
CREATE TABLE etl_tap.before_failure AS SELECT id, state, state_substate, state_changed_at FROM etl_api.run_queue;
SELECT throws_ok($$SELECT * FROM etl_api.convert_legacy_status('run_queue')$$, '22023',
                 'status: unknown legacy statuses: Archived, bogus',
                 'unknown legacy values fail the call, every one named');
SELECT set_eq('SELECT id, state, state_substate, state_changed_at FROM etl_api.run_queue',
              'SELECT * FROM etl_tap.before_failure',
              'the failed conversion changed nothing (the pending row is still new)');

-- ---------------------------------------------------------------------------------------------
-- Another table and column name; bad arguments (5)
-- ---------------------------------------------------------------------------------------------
ALTER TABLE etl_api.workflow_request ADD COLUMN old_status varchar(40);
INSERT INTO etl_api.workflow_request (org_id, workflow_type, old_status)
SELECT etl_tap.new_org(), 'legacy', s FROM unnest(ARRAY['Completed', 'completed', 'invalid_json']) s;
SELECT bag_eq($$SELECT * FROM etl_api.convert_legacy_status('workflow_request', 'old_status')$$,
              $$VALUES ('Completed', 'done', NULL, 1::bigint), ('completed', 'done', NULL, 1), ('invalid_json', 'invalid', 'invalid_json', 1)$$,
              'convert_legacy_status works on a varchar column named by p_column');
SELECT set_eq($$SELECT state::text, state_substate FROM etl_api.workflow_request WHERE old_status IS NOT NULL$$,
              $$VALUES ('done', NULL), ('invalid', 'invalid_json')$$, 'workflow_request rows converted');
SELECT throws_ok($$SELECT * FROM etl_api.convert_legacy_status('campaigns')$$, '22023',
                 'p_table: not an ETL table with a state: ''campaigns''', 'an unknown table is 22023 naming it');
SELECT throws_ok($$SELECT * FROM etl_api.convert_legacy_status('activity_request')$$, '22023',
                 'p_column: activity_request has no text column ''status''', 'a table without the column is 22023');
SELECT throws_ok($$SELECT * FROM etl_api.convert_legacy_status('run_queue', 'priority')$$, '22023',
                 'p_column: run_queue has no text column ''priority''', 'a non-text column is 22023');

SELECT * FROM finish();
ROLLBACK;
