-- pgTAP: the core helpers of 20261123000000_core.sql.
BEGIN;
SELECT plan(12);

SELECT has_schema('leadledger');
SELECT has_function('leadledger', 'error_envelope', ARRAY['text', 'text', 'text', 'text']);
SELECT has_function('leadledger', 'ok_envelope', ARRAY['jsonb']);
SELECT has_role('leadledger_service');

SELECT is(leadledger.ok_envelope('{"n": 1}'), '{"success": true, "n": 1}'::jsonb, 'ok envelope merges fields');
SELECT is(leadledger.error_envelope('23505', 'dup', 'Key (id)=(1) already exists.')->>'error',
          'Duplicate record detected', '23505');
SELECT is(leadledger.error_envelope('23503', 'fk')->>'error', 'Referenced record not found', '23503');
SELECT is(leadledger.error_envelope('40P01', 'deadlock detected'),
          '{"success": false, "error": "Operation conflict, please retry", "error_code": "40P01",
            "error_detail": "deadlock detected", "retry_recommended": true}'::jsonb, '40P01');
SELECT ok((leadledger.error_envelope('55P03', 'x')->>'retry_recommended')::boolean, '55P03 retry');
SELECT is(leadledger.error_envelope('P0001', 'own words')->>'error', 'own words', 'P0001 keeps message');
SELECT is(leadledger.error_envelope('42P01', 'no table')->>'error', 'Database operation failed', 'other');
SELECT throws_ok($$SELECT leadledger.invalid_parameter('p_name', 'is required')$$,
                 '22023', 'p_name: is required', 'invalid_parameter raises 22023 naming the field');

SELECT * FROM finish();
ROLLBACK;
