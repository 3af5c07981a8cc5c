-- Rollback of 20261202030100_factor_operators: back to the operators and templates of
-- 20261123030200 (the function is current state, removed by `db down` before this runs).
-- Operators without a v1 label (like, ilike, regex, not_regex) cannot go back: they stop the
-- rollback with an error naming the factor rows.
DO $$
DECLARE
    v_rows text;
BEGIN
    SELECT string_agg(id::text, ', ') INTO v_rows FROM public.factor
     WHERE operator::text IN ('like', 'ilike', 'regex', 'not_regex');
    IF v_rows IS NOT NULL THEN
        RAISE EXCEPTION 'factors % use operators that 20261123030200 does not have', v_rows;
    END IF;
END
$$;
ALTER TYPE public.operator_enum RENAME TO operator_enum_v2;
CREATE TYPE public.operator_enum AS ENUM (
    'equals', 'not_equals',
    'greater_than', 'greater_than_or_equal', 'less_than', 'less_than_or_equal',
    'between', 'not_between',
    'contains', 'not_contains', 'starts_with', 'ends_with',
    'in', 'not_in',
    'is_empty', 'is_not_empty',
    'before', 'after', 'within'
);
COMMENT ON TYPE public.operator_enum IS 'The 19 comparison operators of a factor.';
ALTER TABLE public.factor
    ALTER COLUMN operator DROP DEFAULT,
    ALTER COLUMN operator TYPE public.operator_enum USING (CASE operator::text
        WHEN 'greater_equal' THEN 'greater_than_or_equal'
        WHEN 'less_equal' THEN 'less_than_or_equal'
        WHEN 'is_null' THEN 'is_empty'
        WHEN 'is_not_null' THEN 'is_not_empty'
        ELSE operator::text END)::public.operator_enum,
    ALTER COLUMN operator SET DEFAULT 'equals',
    ALTER COLUMN factor_type TYPE text USING factor_type::text,
    ADD CONSTRAINT factor_factor_type_check
        CHECK (factor_type IN ('volume', 'boolean', 'option', 'time', 'place', 'frequency', 'reason',
                               'entity', 'similarity'));
DELETE FROM etl_api.operator_phrase;
ALTER TABLE etl_api.operator_phrase
    ALTER COLUMN operator TYPE public.operator_enum USING 'equals',
    ADD COLUMN negated boolean NOT NULL DEFAULT false;
INSERT INTO etl_api.operator_phrase (operator, phrase, negated) VALUES
    ('equals', 'is', false), ('not_equals', 'is not', true),
    ('greater_than', 'is more than', false), ('greater_than_or_equal', 'is at least', false),
    ('less_than', 'is less than', false), ('less_than_or_equal', 'is at most', false),
    ('between', 'is between', false), ('not_between', 'is not between', true),
    ('contains', 'contains', false), ('not_contains', 'does not contain', true),
    ('starts_with', 'starts with', false), ('ends_with', 'ends with', false),
    ('in', 'is one of', false), ('not_in', 'is not one of', true),
    ('is_empty', 'is empty', false), ('is_not_empty', 'is not empty', true),
    ('before', 'is before', false), ('after', 'is after', false), ('within', 'is within', false);
DROP TYPE public.operator_enum_v2;
DELETE FROM etl_api.factor_type_template;
ALTER TABLE etl_api.factor_type_template
    ALTER COLUMN factor_type TYPE text USING factor_type::text,
    ADD COLUMN guardrail_negated text NOT NULL DEFAULT '';
ALTER TABLE etl_api.factor_type_template ALTER COLUMN guardrail_negated DROP DEFAULT;
INSERT INTO etl_api.factor_type_template (factor_type, question_word, guardrail, guardrail_negated, use_case) VALUES
    ('volume', 'How many', '{Object}''s {datapoint} {operator} {value}', '{Object}''s {datapoint} {operator} {value}',
     'How many {datapoint} does the {object} have?'),
    ('boolean', 'Is', '{Object} is {datapoint}', '{Object} is not {datapoint}',
     'Is the {object} {datapoint}?'),
    ('option', 'What', '{Object}''s {datapoint} {operator} {value}', '{Object}''s {datapoint} {operator} {value}',
     'What is the {object}''s {datapoint}?'),
    ('time', 'When', '{Object}''s {datapoint} {operator} {value}', '{Object}''s {datapoint} {operator} {value}',
     'When is the {object}''s {datapoint}?'),
    ('place', 'Where', '{Object}''s {datapoint} {operator} {value}', '{Object}''s {datapoint} {operator} {value}',
     'Where is the {object}''s {datapoint}?'),
    ('frequency', 'How often', '{Object}''s {datapoint} {operator} {value}', '{Object}''s {datapoint} {operator} {value}',
     'How often does the {object} {datapoint}?'),
    ('reason', 'Why', '{Object}''s {datapoint} {operator} {value}', '{Object}''s {datapoint} {operator} {value}',
     'Why does the {object} {datapoint}?'),
    ('entity', 'What', '{Object}''s {datapoint} {operator} {value}', '{Object}''s {datapoint} {operator} {value}',
     'What {datapoint} does the {object} use?'),
    ('similarity', 'How similar', '{Object} {operator} similar to {value}', '{Object} {operator} similar to {value}',
     'How similar is the {object} to {value}?');
DROP TYPE public.factor_type_enum;
