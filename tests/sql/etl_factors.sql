-- pgTAP: public.operator_enum, public.factor_type_enum and public.generate_factor_description
-- (etl/sql/04_factors.sql) against the document, 004 §2.1-2.3: the 19 operator labels in order,
-- each phrase, every example of the §2.3 matrix, and the §2.2 function itself, copied here
-- verbatim and compared with ours on every factor type x operator x guardrail/use case.
BEGIN;
SELECT plan(49);

CREATE SCHEMA etl_tap;

-- ---------------------------------------------------------------------------------------------
-- The function and the enums (4)
-- ---------------------------------------------------------------------------------------------
SELECT has_function('public', 'generate_factor_description',
                    ARRAY['factor_type_enum', 'text', 'text', 'operator_enum', 'text', 'boolean']);
SELECT is((SELECT proargnames FROM pg_proc
            WHERE oid = 'public.generate_factor_description(factor_type_enum, text, text, operator_enum, text, boolean)'::regprocedure),
          ARRAY['factor_type', 'object_type_name', 'datapoint_name', 'operator_name', 'value', 'is_guardrail'],
          'parameter names as 004 §2.2 gives them');
SELECT is(enum_range(NULL::operator_enum)::text[],
          ARRAY['equals', 'not_equals', 'greater_than', 'greater_equal', 'less_than', 'less_equal', 'contains',
                'not_contains', 'starts_with', 'ends_with', 'in', 'not_in', 'between', 'is_null', 'is_not_null',
                'like', 'ilike', 'regex', 'not_regex'],
          'operator_enum has exactly the document''s 19 labels, in its order');
SELECT is(enum_range(NULL::factor_type_enum)::text[],
          ARRAY['volume', 'boolean', 'option', 'time', 'place', 'frequency', 'reason', 'entity', 'similarity'],
          'factor_type_enum has the document''s nine types');

-- ---------------------------------------------------------------------------------------------
-- Every example of the §2.3 matrix, as written (9 guardrails + 9 use cases + the issue's 1)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE etl_tap.examples (
    n serial, factor_type factor_type_enum, object_type_name text, datapoint_name text, operator_name operator_enum,
    value text, is_guardrail boolean, expected text
);
INSERT INTO etl_tap.examples (factor_type, object_type_name, datapoint_name, operator_name, value, is_guardrail, expected) VALUES
    ('volume', 'Company', 'employees', 'greater_than', '100', true, 'Company''s employees is more than 100'),
    ('boolean', 'Company', 'public', 'equals', NULL, true, 'Company is public'),
    ('option', 'Company', 'industry', 'equals', 'technology', true, 'Company''s industry is technology'),
    ('time', 'Company', 'founded_date', 'equals', 'after 2020', true, 'Company''s founded_date is after 2020'),
    ('place', 'Company', 'location', 'equals', 'in San Francisco', true, 'Company''s location is in San Francisco'),
    ('frequency', 'Company', 'update_frequency', 'greater_than', 'weekly', true, 'Company''s update_frequency is more than weekly'),
    ('reason', 'Company', 'success_reason', 'equals', 'innovation', true, 'Company''s success_reason is innovation'),
    ('entity', 'Company', 'technology', 'equals', 'React', true, 'Company''s technology is React'),
    ('similarity', 'Company', 'profile', 'equals', 'similar to TechCorp', true, 'Company''s profile is similar to TechCorp'),
    ('volume', 'company', 'employees', NULL, NULL, false, 'How many employees does the company have?'),
    ('boolean', 'company', 'public', NULL, NULL, false, 'Is the company public?'),
    ('option', 'company', 'industry', NULL, NULL, false, 'What is the company''s industry?'),
    ('time', 'company', 'founded', NULL, NULL, false, 'When was the company founded?'),
    ('place', 'company', 'located', NULL, NULL, false, 'Where is the company located?'),
    ('frequency', 'company', 'update', NULL, NULL, false, 'How often does the company update?'),
    ('reason', 'company', 'succeed', NULL, NULL, false, 'Why does the company succeed?'),
    ('entity', 'company', 'technology', NULL, NULL, false, 'What technology does the company use?'),
    ('similarity', 'company', 'profile', NULL, NULL, false, 'How similar is the company''s profile?'),
    ('option', 'Company', 'description', 'is_null', NULL, true, 'Company''s description is empty');

SELECT is(generate_factor_description(e.factor_type, e.object_type_name, e.datapoint_name, e.operator_name, e.value,
                                      e.is_guardrail),
          e.expected, format('§2.3: %s', e.expected))
  FROM etl_tap.examples e ORDER BY e.n;

-- ---------------------------------------------------------------------------------------------
-- The operator phrases matrix of §2.3 (19)
-- ---------------------------------------------------------------------------------------------
CREATE TABLE etl_tap.phrases (n serial, operator operator_enum, value text, expected text);
INSERT INTO etl_tap.phrases (operator, value, expected) VALUES
    ('equals', 'technology', 'Company''s industry is technology'),
    ('not_equals', 'healthcare', 'Company''s industry is not healthcare'),
    ('greater_than', '100', 'Company''s industry is more than 100'),
    ('greater_equal', '50', 'Company''s industry is at least 50'),
    ('less_than', '1000', 'Company''s industry is less than 1000'),
    ('less_equal', '500', 'Company''s industry is at most 500'),
    ('contains', 'AI', 'Company''s industry contains AI'),
    ('not_contains', 'blockchain', 'Company''s industry does not contain blockchain'),
    ('starts_with', 'Tech', 'Company''s industry starts with Tech'),
    ('ends_with', 'Corp', 'Company''s industry ends with Corp'),
    ('in', 'technology, healthcare', 'Company''s industry is one of technology, healthcare'),
    ('not_in', 'retail, finance', 'Company''s industry is not one of retail, finance'),
    ('between', '100 and 500', 'Company''s industry is between 100 and 500'),
    ('is_null', NULL, 'Company''s industry is empty'),
    ('is_not_null', NULL, 'Company''s industry is not empty'),
    ('like', 'Tech%', 'Company''s industry is like Tech%'),
    ('ilike', 'tech%', 'Company''s industry is like tech%'),
    ('regex', '^[A-Z]', 'Company''s industry matches ^[A-Z]'),
    ('not_regex', '^[0-9]', 'Company''s industry does not match ^[0-9]');
SELECT is(generate_factor_description('option', 'Company', 'industry', p.operator, p.value, true), p.expected,
          format('operator %s: %s', p.operator, p.expected))
  FROM etl_tap.phrases p ORDER BY p.n;

-- ---------------------------------------------------------------------------------------------
-- The §2.2 function, verbatim (only its enum types qualified), against ours everywhere (2)
-- ---------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION etl_tap.document_description(
  factor_type factor_type_enum,
  object_type_name text,
  datapoint_name text,
  operator_name operator_enum,
  value text,
  is_guardrail boolean DEFAULT true
) RETURNS text AS $$
DECLARE
  description text;
  question_word text;
  operator_phrase text;
BEGIN
  -- Get question word for factor type
  CASE factor_type
    WHEN 'volume' THEN question_word := 'How many';
    WHEN 'boolean' THEN question_word := 'Is';
    WHEN 'option' THEN question_word := 'What';
    WHEN 'time' THEN question_word := 'When';
    WHEN 'place' THEN question_word := 'Where';
    WHEN 'frequency' THEN question_word := 'How often';
    WHEN 'reason' THEN question_word := 'Why';
    WHEN 'entity' THEN question_word := 'What';
    WHEN 'similarity' THEN question_word := 'How similar';
  END CASE;

  -- Get operator phrase
  CASE operator_name
    WHEN 'equals' THEN operator_phrase := 'is';
    WHEN 'not_equals' THEN operator_phrase := 'is not';
    WHEN 'greater_than' THEN operator_phrase := 'is more than';
    WHEN 'greater_equal' THEN operator_phrase := 'is at least';
    WHEN 'less_than' THEN operator_phrase := 'is less than';
    WHEN 'less_equal' THEN operator_phrase := 'is at most';
    WHEN 'contains' THEN operator_phrase := 'contains';
    WHEN 'not_contains' THEN operator_phrase := 'does not contain';
    WHEN 'starts_with' THEN operator_phrase := 'starts with';
    WHEN 'ends_with' THEN operator_phrase := 'ends with';
    WHEN 'in' THEN operator_phrase := 'is one of';
    WHEN 'not_in' THEN operator_phrase := 'is not one of';
    WHEN 'between' THEN operator_phrase := 'is between';
    WHEN 'is_null' THEN operator_phrase := 'is empty';
    WHEN 'is_not_null' THEN operator_phrase := 'is not empty';
    WHEN 'like' THEN operator_phrase := 'is like';
    WHEN 'ilike' THEN operator_phrase := 'is like';
    WHEN 'regex' THEN operator_phrase := 'matches';
    WHEN 'not_regex' THEN operator_phrase := 'does not match';
  END CASE;

  -- Generate description based on factor type and guardrail/use case
  IF is_guardrail THEN
    CASE factor_type
      WHEN 'boolean' THEN
        description := object_type_name || ' ' || operator_phrase || ' ' || datapoint_name;
      ELSE
        description := object_type_name || '''s ' || datapoint_name || ' ' || operator_phrase || ' ' || value;
    END CASE;
  ELSE
    CASE factor_type
      WHEN 'volume' THEN
        description := question_word || ' ' || datapoint_name || ' does the ' || object_type_name || ' have?';
      WHEN 'boolean' THEN
        description := question_word || ' the ' || object_type_name || ' ' || datapoint_name || '?';
      WHEN 'option' THEN
        description := question_word || ' is the ' || object_type_name || '''s ' || datapoint_name || '?';
      WHEN 'time' THEN
        description := question_word || ' was the ' || object_type_name || ' ' || datapoint_name || '?';
      WHEN 'place' THEN
        description := question_word || ' is the ' || object_type_name || ' ' || datapoint_name || '?';
      WHEN 'frequency' THEN
        description := question_word || ' does the ' || object_type_name || ' ' || datapoint_name || '?';
      WHEN 'reason' THEN
        description := question_word || ' does the ' || object_type_name || ' ' || datapoint_name || '?';
      WHEN 'entity' THEN
        description := question_word || ' ' || datapoint_name || ' does the ' || object_type_name || ' use?';
      WHEN 'similarity' THEN
        description := question_word || ' is the ' || object_type_name || '''s ' || datapoint_name || '?';
    END CASE;
  END IF;

  RETURN description;
END;
$$ LANGUAGE plpgsql;

CREATE TABLE etl_tap.grid AS
    SELECT t AS factor_type, o AS operator_name, g AS is_guardrail, v AS value,
           etl_tap.document_description(t, 'Company', 'employees', o, v, g) AS document,
           generate_factor_description(t, 'Company', 'employees', o, v, g) AS ours
      FROM unnest(enum_range(NULL::factor_type_enum)) t,
           unnest(enum_range(NULL::operator_enum)) o,
           unnest(ARRAY[true, false]) g,
           unnest(ARRAY['100', 'X {value} Y']) v;
SELECT is((SELECT count(*) FROM etl_tap.grid WHERE document IS DISTINCT FROM ours), 0::bigint,
          'equal to the document''s function on all 684 factor type x operator x guardrail/use case x value cases');
SELECT is((SELECT count(*) FROM etl_tap.grid), 684::bigint, 'the grid is complete');

-- ---------------------------------------------------------------------------------------------
-- Where the document returns NULL, and bad input (5)
-- ---------------------------------------------------------------------------------------------
SELECT is(etl_tap.document_description('option', 'Company', 'description', 'is_null', NULL, true), NULL,
          'the document''s function returns NULL for an is_null guardrail without a value ...');
SELECT throws_ok($$SELECT generate_factor_description('volume', 'Company', 'employees', 'greater_than', NULL, true)$$,
                 '22023', 'value: is required for a volume guardrail with operator greater_than',
                 'a guardrail that needs a value and has none is 22023 naming value (the document returns NULL)');
SELECT throws_ok($$SELECT generate_factor_description('volume', 'Company', 'employees', NULL, '1', true)$$,
                 '22023', 'operator_name: is required for a guardrail', 'a guardrail needs an operator');
SELECT throws_ok($$SELECT generate_factor_description(NULL, 'Company', 'employees', 'equals', '100', true)$$,
                 '22023', 'factor_type: is required', 'a NULL factor type is 22023');
SELECT throws_ok($$SELECT generate_factor_description('size', 'Company', 'employees', 'equals', '100', true)$$,
                 '22P02', NULL, 'an unknown factor type is refused by its enum (22P02 names the value)');

SELECT * FROM finish();
ROLLBACK;
