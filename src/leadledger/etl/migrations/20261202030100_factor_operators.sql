-- Factors as the document defines them (issue 8, 004 §2.1-2.3):
-- * public.operator_enum gets exactly the document's 19 labels, in its order. Four labels of
--   20261123030200 are renamed (greater_than_or_equal -> greater_equal, less_than_or_equal ->
--   less_equal, is_empty -> is_null, is_not_empty -> is_not_null), three become their document
--   equivalents (before -> less_than, after -> greater_than, within -> between), and like,
--   ilike, regex, not_regex are added. not_between has no equivalent: a factor using it stops
--   the upgrade with a message naming the rows, rather than be silently changed.
-- * public.factor_type_enum: the document's factor types, the type of generate_factor_description's
--   first parameter and of public.factor.factor_type.
-- * The sentence templates become the document's formulas (§2.2 function, §2.3 matrix).
-- PostgreSQL cannot drop enum labels, so the type is rebuilt and the columns converted.
DO $$
DECLARE
    v_rows text;
BEGIN
    SELECT string_agg(id::text, ', ') INTO v_rows FROM public.factor WHERE operator::text = 'not_between';
    IF v_rows IS NOT NULL THEN
        RAISE EXCEPTION 'factors % use operator not_between, which the document''s operator_enum does not have', v_rows
            USING HINT = 'change them (for example to two factors, less_than and greater_than) and upgrade again';
    END IF;
END
$$;

DROP FUNCTION IF EXISTS public.generate_factor_description(text, text, text, public.operator_enum, text, boolean);
ALTER TYPE public.operator_enum RENAME TO operator_enum_v1;
CREATE TYPE public.operator_enum AS ENUM (
    'equals', 'not_equals', 'greater_than', 'greater_equal',
    'less_than', 'less_equal', 'contains', 'not_contains',
    'starts_with', 'ends_with', 'in', 'not_in',
    'between', 'is_null', 'is_not_null', 'like', 'ilike',
    'regex', 'not_regex'
);
COMMENT ON TYPE public.operator_enum IS 'The 19 comparison operators of a factor (004 §2.1).';

CREATE TYPE public.factor_type_enum AS ENUM (
    'volume', 'boolean', 'option', 'time', 'place', 'frequency', 'reason', 'entity', 'similarity'
);
COMMENT ON TYPE public.factor_type_enum IS 'The nine factor types (004 §2.2-2.3).';

ALTER TABLE public.factor
    ALTER COLUMN operator DROP DEFAULT,
    ALTER COLUMN operator TYPE public.operator_enum USING (CASE operator::text
        WHEN 'greater_than_or_equal' THEN 'greater_equal'
        WHEN 'less_than_or_equal' THEN 'less_equal'
        WHEN 'is_empty' THEN 'is_null'
        WHEN 'is_not_empty' THEN 'is_not_null'
        WHEN 'before' THEN 'less_than'
        WHEN 'after' THEN 'greater_than'
        WHEN 'within' THEN 'between'
        ELSE operator::text END)::public.operator_enum,
    ALTER COLUMN operator SET DEFAULT 'equals',
    DROP CONSTRAINT factor_factor_type_check,
    ALTER COLUMN factor_type TYPE public.factor_type_enum USING factor_type::public.factor_type_enum;

DELETE FROM etl_api.operator_phrase;
ALTER TABLE etl_api.operator_phrase
    ALTER COLUMN operator TYPE public.operator_enum USING operator::text::public.operator_enum,
    DROP COLUMN negated;
INSERT INTO etl_api.operator_phrase (operator, phrase) VALUES
    ('equals', 'is'), ('not_equals', 'is not'),
    ('greater_than', 'is more than'), ('greater_equal', 'is at least'),
    ('less_than', 'is less than'), ('less_equal', 'is at most'),
    ('contains', 'contains'), ('not_contains', 'does not contain'),
    ('starts_with', 'starts with'), ('ends_with', 'ends with'),
    ('in', 'is one of'), ('not_in', 'is not one of'),
    ('between', 'is between'),
    ('is_null', 'is empty'), ('is_not_null', 'is not empty'),
    ('like', 'is like'), ('ilike', 'is like'),
    ('regex', 'matches'), ('not_regex', 'does not match');
DROP TYPE public.operator_enum_v1;

DELETE FROM etl_api.factor_type_template;
ALTER TABLE etl_api.factor_type_template
    ALTER COLUMN factor_type TYPE public.factor_type_enum USING factor_type::public.factor_type_enum,
    DROP COLUMN guardrail_negated;
-- Placeholders: {object}, {datapoint}, {operator} (the operator's phrase), {value}; the caller's
-- words are put in as given (the document's function does not change their case).
INSERT INTO etl_api.factor_type_template (factor_type, question_word, guardrail, use_case) VALUES
    ('volume', 'How many', '{object}''s {datapoint} {operator} {value}', 'How many {datapoint} does the {object} have?'),
    ('boolean', 'Is', '{object} {operator} {datapoint}', 'Is the {object} {datapoint}?'),
    ('option', 'What', '{object}''s {datapoint} {operator} {value}', 'What is the {object}''s {datapoint}?'),
    ('time', 'When', '{object}''s {datapoint} {operator} {value}', 'When was the {object} {datapoint}?'),
    ('place', 'Where', '{object}''s {datapoint} {operator} {value}', 'Where is the {object} {datapoint}?'),
    ('frequency', 'How often', '{object}''s {datapoint} {operator} {value}', 'How often does the {object} {datapoint}?'),
    ('reason', 'Why', '{object}''s {datapoint} {operator} {value}', 'Why does the {object} {datapoint}?'),
    ('entity', 'What', '{object}''s {datapoint} {operator} {value}', 'What {datapoint} does the {object} use?'),
    ('similarity', 'How similar', '{object}''s {datapoint} {operator} {value}', 'How similar is the {object}''s {datapoint}?');
