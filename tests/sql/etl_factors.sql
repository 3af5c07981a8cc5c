-- pgTAP: public.operator_enum and public.generate_factor_description
-- (20261123030200_factors.sql): every factor type as a guardrail and as a use case, the issue's
-- five examples, all 19 operator phrases, unknown factor types (22023).
-- Expected sentences are written out here from etl_api.factor_type_template and
-- etl_api.operator_phrase as the migration seeds them, not computed from those tables.
BEGIN;
SELECT plan(54);

CREATE SCHEMA etl_tap;

-- ---------------------------------------------------------------------------------------------
-- The function and its contract (2)
-- ---------------------------------------------------------------------------------------------
SELECT has_function('public', 'generate_factor_description',
                    ARRAY['text', 'text', 'text', 'operator_enum', 'text', 'boolean']);
SELECT is((SELECT proargnames FROM pg_proc WHERE oid = 'public.generate_factor_description(text, text, text, operator_enum, text, boolean)'::regprocedure),
          ARRAY['factor_type', 'object_type_name', 'datapoint_name', 'operator_name', 'value', 'is_guardrail'],
          'parameter names as the seed plan gives them');

-- ---------------------------------------------------------------------------------------------
-- The issue's five examples, exactly (5)
-- ---------------------------------------------------------------------------------------------
SELECT is(generate_factor_description('volume', 'Company', 'employees', 'greater_than', '100', true),
          'Company''s employees is more than 100', 'volume guardrail example');
SELECT is(generate_factor_description('boolean', 'Company', 'public', 'equals', NULL, true),
          'Company is public', 'boolean guardrail example');
SELECT is(generate_factor_description('volume', 'company', 'employees', 'equals', NULL, false),
          'How many employees does the company have?', 'volume use case example');
SELECT is(generate_factor_description('boolean', 'company', 'public', 'equals', NULL, false),
          'Is the company public?', 'boolean use case example');
SELECT is(generate_factor_description(factor_type => 'entity', object_type_name => 'company', datapoint_name => 'technology',
                                      operator_name => 'equals', value => NULL, is_guardrail => false),
          'What technology does the company use?', 'entity use case example (named arguments)');

-- ---------------------------------------------------------------------------------------------
-- Every factor type x guardrail / use case (18 + 1)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE etl_tap.cases (
    n serial, factor_type text, object_type_name text, datapoint_name text, operator_name operator_enum, value text,
    is_guardrail boolean, expected text
);
INSERT INTO etl_tap.cases (factor_type, object_type_name, datapoint_name, operator_name, value, is_guardrail, expected) VALUES
    ('volume', 'Company', 'employees', 'greater_than', '100', true, 'Company''s employees is more than 100'),
    ('volume', 'Company', 'employees', 'greater_than', '100', false, 'How many employees does the company have?'),
    ('boolean', 'Company', 'public', 'equals', NULL, true, 'Company is public'),
    ('boolean', 'Company', 'public', 'equals', NULL, false, 'Is the company public?'),
    ('option', 'Company', 'industry', 'equals', 'Software', true, 'Company''s industry is Software'),
    ('option', 'Company', 'industry', 'equals', 'Software', false, 'What is the company''s industry?'),
    ('time', 'Company', 'founding date', 'before', '2000', true, 'Company''s founding date is before 2000'),
    ('time', 'Company', 'founding date', 'before', '2000', false, 'When is the company''s founding date?'),
    ('place', 'Company', 'headquarters', 'in', 'Texas, Ohio', true, 'Company''s headquarters is one of Texas, Ohio'),
    ('place', 'Company', 'headquarters', 'in', 'Texas, Ohio', false, 'Where is the company''s headquarters?'),
    ('frequency', 'Company', 'post', 'greater_than_or_equal', 'weekly', true, 'Company''s post is at least weekly'),
    ('frequency', 'Company', 'post', 'greater_than_or_equal', 'weekly', false, 'How often does the company post?'),
    ('reason', 'Company', 'churn', 'equals', 'pricing', true, 'Company''s churn is pricing'),
    ('reason', 'Company', 'churn', 'equals', 'pricing', false, 'Why does the company churn?'),
    ('entity', 'Company', 'technology', 'contains', 'Salesforce', true, 'Company''s technology contains Salesforce'),
    ('entity', 'Company', 'technology', 'contains', 'Salesforce', false, 'What technology does the company use?'),
    ('similarity', 'Company', 'profile', 'equals', 'Acme', true, 'Company is similar to Acme'),
    ('similarity', 'Company', 'profile', 'equals', 'Acme', false, 'How similar is the company to Acme?');

SELECT is(generate_factor_description(c.factor_type, c.object_type_name, c.datapoint_name, c.operator_name, c.value,
                                      c.is_guardrail),
          c.expected,
          format('%s %s: %s', c.factor_type, CASE WHEN c.is_guardrail THEN 'guardrail' ELSE 'use case' END, c.expected))
  FROM etl_tap.cases c ORDER BY c.n;

SELECT set_eq('SELECT factor_type FROM etl_api.factor_type_template',
              'SELECT DISTINCT factor_type FROM etl_tap.cases',
              'the templates cover exactly the nine factor types');

-- ---------------------------------------------------------------------------------------------
-- operator_enum and its phrases: 19 labels, each with a phrase (2), each phrase in a sentence (19)
-- ---------------------------------------------------------------------------------------------
SELECT is(array_length(enum_range(NULL::operator_enum), 1), 19, 'operator_enum has exactly 19 labels');
SELECT set_eq('SELECT unnest(enum_range(NULL::operator_enum))', 'SELECT operator FROM etl_api.operator_phrase',
              'every operator has exactly one row in etl_api.operator_phrase');

CREATE TABLE etl_tap.phrases (n serial, operator operator_enum, phrase text);
INSERT INTO etl_tap.phrases (operator, phrase) VALUES
    ('equals', 'is'), ('not_equals', 'is not'),
    ('greater_than', 'is more than'), ('greater_than_or_equal', 'is at least'),
    ('less_than', 'is less than'), ('less_than_or_equal', 'is at most'),
    ('between', 'is between'), ('not_between', 'is not between'),
    ('contains', 'contains'), ('not_contains', 'does not contain'),
    ('starts_with', 'starts with'), ('ends_with', 'ends with'),
    ('in', 'is one of'), ('not_in', 'is not one of'),
    ('is_empty', 'is empty'), ('is_not_empty', 'is not empty'),
    ('before', 'is before'), ('after', 'is after'), ('within', 'is within');

SELECT is(generate_factor_description('volume', 'Company', 'employees', p.operator, '100', true),
          format('Company''s employees %s%s', p.phrase,
                 CASE WHEN p.operator IN ('is_empty', 'is_not_empty') THEN '' ELSE ' 100' END),
          format('operator %s reads "%s"', p.operator, p.phrase))
  FROM etl_tap.phrases p ORDER BY p.n;

-- ---------------------------------------------------------------------------------------------
-- Negation, defaults, unknown factor types, caller text with braces (7)
-- ---------------------------------------------------------------------------------------------
SELECT is(generate_factor_description('volume', 'Company', '{value} count', 'equals', '5', true),
          'Company''s {value} count is 5', 'a placeholder inside the caller''s text is not substituted');
SELECT is(generate_factor_description('option', 'Company', 'website', 'is_empty', 'ignored', true),
          'Company''s website is empty', 'is_empty leaves the value out');
SELECT is(generate_factor_description('boolean', 'Company', 'public', 'not_equals', NULL, true), 'Company is not public',
          'a negated boolean guardrail reads "is not"');
SELECT is(generate_factor_description('volume', 'Company', 'employees', NULL, '100'), 'Company''s employees is 100',
          'no operator reads as equals; is_guardrail defaults to true');
SELECT throws_ok($$SELECT generate_factor_description('size', 'Company', 'employees', 'equals', '100', true)$$, '22023',
                 'factor_type: must be volume, boolean, option, time, place, frequency, reason, entity or similarity, got ''size''',
                 'an unknown factor type is 22023 naming it');
SELECT throws_ok($$SELECT generate_factor_description('Volume', 'Company', 'employees', 'equals', '100', true)$$, '22023',
                 NULL, 'factor types are case-sensitive (Volume is unknown)');
SELECT throws_ok($$SELECT generate_factor_description(NULL, 'Company', 'employees', 'equals', '100', true)$$, '22023',
                 NULL, 'a NULL factor type is 22023');

SELECT * FROM finish();
ROLLBACK;
