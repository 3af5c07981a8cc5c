-- pgTAP: the ETL engine under organizations (20261202040300_etl_tenancy.sql, etl/sql/05-07):
-- etl_api.org follows public.organizations 1:1; the service confined to one organization
-- (p_organization_id) reaches only that organization's rows in transition_state, mark_timedout,
-- get_state_counts and get_stuck_rows, while without one it acts across organizations; history
-- rows carry their row's organization; factors belong to an organization; row level security is
-- on. (End users, who are confined by their JWT claims, are tested as such in
-- tests/etl/test_tenancy.py: a role switch inside pgTAP would lose its result tables.)
-- Setup helpers live in the schema etl_tap, created inside this transaction and rolled back.
BEGIN;
SELECT plan(36);

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

-- ---------------------------------------------------------------------------------------------
-- etl_api.org is 1:1 with public.organizations (6)
-- ---------------------------------------------------------------------------------------------
SELECT set_eq('SELECT id, name FROM public.organizations', 'SELECT id, name FROM etl_api.org',
              'every organization has its etl_api.org row, with its name, and there is no other');
CREATE TABLE etl_tap.orgs AS SELECT etl_tap.new_org('Tenant A') AS a, etl_tap.new_org('Tenant B') AS b;
SELECT is((SELECT name FROM etl_api.org WHERE id = (SELECT a FROM etl_tap.orgs)), 'Tenant A',
          'a new organization gets its etl_api.org row (same id, same name)');
UPDATE public.organizations SET name = 'Tenant A renamed' WHERE id = (SELECT a FROM etl_tap.orgs);
SELECT is((SELECT name FROM etl_api.org WHERE id = (SELECT a FROM etl_tap.orgs)), 'Tenant A renamed',
          'a renamed organization''s name follows');
SELECT throws_ok($$INSERT INTO etl_api.org (id, name) VALUES (gen_random_uuid(), 'orphan')$$, '23503', NULL,
                 'an etl_api.org row without its organization is refused');
CREATE TABLE etl_tap.doomed AS SELECT etl_tap.new_org('Doomed') AS id;
CREATE TABLE etl_tap.doomed_row AS SELECT etl_tap.new_row('run_queue', (SELECT id FROM etl_tap.doomed)) AS id;
SELECT is(etl_api.transition_state('run_queue', (SELECT id FROM etl_tap.doomed_row), 'valid')->>'success', 'true',
          'a row of the doomed organization gets a history');
DELETE FROM public.organizations WHERE id = (SELECT id FROM etl_tap.doomed);
SELECT is((SELECT count(*) FROM etl_api.org WHERE id = (SELECT id FROM etl_tap.doomed))
          + (SELECT count(*) FROM etl_api.run_queue WHERE id = (SELECT id FROM etl_tap.doomed_row))
          + (SELECT count(*) FROM etl_api.state_history WHERE row_id = (SELECT id FROM etl_tap.doomed_row)), 0::bigint,
          'deleting an organization deletes its etl_api.org row, its ETL rows and their history');

-- ---------------------------------------------------------------------------------------------
-- transition_state confined to an organization (8)
-- ---------------------------------------------------------------------------------------------
SELECT etl_tap.reset();
CREATE TABLE etl_tap.rows AS
SELECT etl_tap.new_row('activity_request', o.a) AS a_activity,
       etl_tap.new_row('run_queue', o.a, 'in_progress') AS a_running,
       etl_tap.new_row('run_queue', o.b, 'in_progress') AS b_running
  FROM etl_tap.orgs o;
UPDATE etl_api.run_queue SET deadline = now() - interval '1 hour'
 WHERE id IN (SELECT a_running FROM etl_tap.rows UNION ALL SELECT b_running FROM etl_tap.rows);

SELECT is(etl_api.transition_state('activity_request', (SELECT a_activity FROM etl_tap.rows), 'valid',
                                   p_organization_id => (SELECT b FROM etl_tap.orgs)) - 'error_detail',
          jsonb_build_object('success', false,
                             'error', format('activity_request %s not found', (SELECT a_activity FROM etl_tap.rows)),
                             'error_code', '23503', 'retry_recommended', false),
          'confined to B, A''s row is not found (23503), exactly like a missing one');
SELECT is(etl_tap.state_of('activity_request', (SELECT a_activity FROM etl_tap.rows)), 'new', 'A''s row is unchanged');
SELECT is((SELECT count(*) FROM etl_api.state_history), 0::bigint, 'and has no history');
SELECT is((SELECT context - 'id' FROM etl_api.etl_log WHERE level = 'warning'),
          '{"table": "activity_request", "org_id": null, "to": "valid", "sqlstate": "23503"}'::jsonb,
          'the refusal is logged without the row''s organization');
SELECT is(etl_api.transition_state('activity_request', (SELECT a_activity FROM etl_tap.rows), 'valid',
                                   p_organization_id => (SELECT a FROM etl_tap.orgs))->>'to', 'valid',
          'confined to A, A''s row moves');
SELECT is((SELECT org_id FROM etl_api.state_history), (SELECT a FROM etl_tap.orgs),
          'its history row carries A');
SELECT is((SELECT (context->>'org_id')::uuid FROM etl_api.etl_log WHERE level = 'info'), (SELECT a FROM etl_tap.orgs),
          'its log line names A');
SELECT is(etl_api.transition_state('activity_request', (SELECT a_activity FROM etl_tap.rows), 'ready')->>'to', 'ready',
          'the service without an organization acts on any organization''s row');

-- ---------------------------------------------------------------------------------------------
-- Reads confined to an organization (8)
-- ---------------------------------------------------------------------------------------------
SELECT set_eq($$SELECT table_name, state, rows FROM etl_api.get_state_counts((SELECT a FROM etl_tap.orgs))$$,
              $$VALUES ('activity_request', 'ready', 1::bigint), ('run_queue', 'in_progress', 1)$$,
              'get_state_counts(A): A''s rows only');
SELECT set_eq($$SELECT table_name, state, rows FROM etl_api.get_state_counts((SELECT b FROM etl_tap.orgs))$$,
              $$VALUES ('run_queue', 'in_progress', 1::bigint)$$,
              'get_state_counts(B): B''s row only');
SELECT set_eq($$SELECT table_name, state, rows FROM etl_api.get_state_counts()$$,
              $$VALUES ('activity_request', 'ready', 1::bigint), ('run_queue', 'in_progress', 2)$$,
              'get_state_counts(): every organization''s rows (the service)');
SELECT is((SELECT count(*) FROM etl_api.get_state_counts(gen_random_uuid())), 0::bigint,
          'get_state_counts of an organization that does not exist: nothing');
SELECT set_eq($$SELECT id, org_id FROM etl_api.get_stuck_rows(10, (SELECT b FROM etl_tap.orgs))$$,
              $$SELECT b_running, (SELECT b FROM etl_tap.orgs) FROM etl_tap.rows$$,
              'get_stuck_rows(B): B''s stuck row only');
SELECT set_eq($$SELECT id FROM etl_api.get_stuck_rows(10)$$,
              $$SELECT a_running FROM etl_tap.rows UNION ALL SELECT b_running FROM etl_tap.rows$$,
              'get_stuck_rows(): every organization''s (the service)');
SELECT is((SELECT array_agg(id) FROM etl_api.get_stuck_rows(p_organization_id => (SELECT a FROM etl_tap.orgs))),
          (SELECT ARRAY[a_running] FROM etl_tap.rows), 'get_stuck_rows takes the organization by name, with the default limit');
SELECT is((SELECT count(*) FROM etl_api.get_stuck_rows(1)), 1::bigint, 'the limit still applies');

-- ---------------------------------------------------------------------------------------------
-- mark_timedout confined to an organization (6)
-- ---------------------------------------------------------------------------------------------
SELECT is(etl_api.mark_timedout(interval '30 minutes', (SELECT b FROM etl_tap.orgs)), 1, 'mark_timedout(B) moves B''s row');
SELECT is(etl_tap.state_of('run_queue', (SELECT a_running FROM etl_tap.rows)), 'in_progress', 'and leaves A''s alone');
SELECT is((SELECT org_id FROM etl_api.state_history WHERE row_id = (SELECT b_running FROM etl_tap.rows)),
          (SELECT b FROM etl_tap.orgs), 'its history row carries B');
SELECT is((SELECT (context->>'org_id')::uuid FROM etl_api.etl_log WHERE message LIKE 'mark_timedout%'),
          (SELECT b FROM etl_tap.orgs), 'its log line names B');
SELECT is(etl_api.mark_timedout(interval '30 minutes', (SELECT b FROM etl_tap.orgs)), 0, 'B has nothing left to move');
SELECT is(etl_api.mark_timedout(interval '30 minutes'), 1, 'the service without an organization moves A''s too');

-- ---------------------------------------------------------------------------------------------
-- Schema: organizations everywhere, row level security on (8)
-- ---------------------------------------------------------------------------------------------
SELECT col_not_null('etl_api', 'state_history', 'org_id', 'state_history.org_id is required');
SELECT fk_ok('etl_api', 'state_history', 'org_id', 'etl_api', 'org', 'id');
SELECT col_not_null('public', 'factor', 'org_id', 'factor.org_id is required');
SELECT fk_ok('public', 'factor', 'org_id', 'public', 'organizations', 'id');
SELECT is((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
            WHERE c.relnamespace = 'etl_api'::regnamespace AND c.relkind = 'r' AND c.relrowsecurity),
          ARRAY['activity_request', 'etl_log', 'org', 'run_queue', 'run_request', 'state_history', 'workflow_request'],
          'row level security is on for every etl_api table with an organization''s rows, and the log');
SELECT set_eq($$SELECT n.nspname || '.' || c.relname FROM pg_policy p
                   JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE p.polname = 'org_members_read' AND (n.nspname = 'etl_api' OR p.polrelid = 'public.factor'::regclass)$$,
              $$VALUES ('etl_api.org'), ('etl_api.workflow_request'), ('etl_api.activity_request'), ('etl_api.run_queue'),
                       ('etl_api.run_request'), ('etl_api.state_history'), ('public.factor')$$,
              'each of them but the log has org_members_read, and so has public.factor');
SELECT ok(NOT has_table_privilege('leadledger_service', 'etl_api.org', 'INSERT'),
          'the service no longer inserts into etl_api.org (it follows the organizations)');
SELECT ok(has_table_privilege('leadledger_service', 'etl_api.run_queue', 'INSERT')
          AND EXISTS (SELECT 1 FROM pg_policy WHERE polname = 'leadledger_service_inserts'
                       AND polrelid = 'etl_api.run_queue'::regclass),
          'the service still inserts ETL rows, through its own INSERT policy');

SELECT * FROM finish();
ROLLBACK;
