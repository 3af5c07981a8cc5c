-- Factor descriptions: the operators, the factor table, and the sentence each factor reads as —
-- a guardrail statement ("Company's employees is more than 100") or a use-case question ("How
-- many employees does the company have?").
--
-- Functions, views and triggers that this migration created when it landed are current state
-- now (etl/sql/04_factors.sql, docs/sql-conventions.md): removed from here, so each has one body.
-- The text databases applied is in git history; its checksum stays valid for them:
-- leadledger:replaces sha256:c9847d9b9fe24ce20c290833c527ba88012550db22649be4e6b873b6c258950e (git 20c4d12:src/leadledger/etl/migrations/20261123030200_factors.sql)

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

-- How each operator reads inside a sentence.
CREATE TABLE etl_api.operator_phrase (
    operator operator_enum PRIMARY KEY,
    phrase   text NOT NULL,
    negated  boolean NOT NULL DEFAULT false
);
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

-- The sentence templates of each factor type. The seed plan's factor_type_description enum
-- listed 'What' twice, which PostgreSQL refuses; the question word is a column here instead, so
-- any number of types may share one (docs/decisions.md). Placeholders: {Object} / {object} (the
-- object type as given / lower-cased), {datapoint}, {operator} (the operator phrase), {value}.
CREATE TABLE etl_api.factor_type_template (
    factor_type       text PRIMARY KEY,
    question_word     text NOT NULL,
    guardrail         text NOT NULL,
    guardrail_negated text NOT NULL,
    use_case          text NOT NULL
);
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
GRANT SELECT ON etl_api.operator_phrase, etl_api.factor_type_template TO leadledger_service;

CREATE TABLE public.factor (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id           uuid REFERENCES etl_api.org (id) ON DELETE CASCADE,
    factor_type      text NOT NULL
                     CHECK (factor_type IN ('volume', 'boolean', 'option', 'time', 'place', 'frequency', 'reason',
                                            'entity', 'similarity')),
    object_type_name text NOT NULL,
    datapoint_name   text NOT NULL,
    operator         operator_enum NOT NULL DEFAULT 'equals',
    value            text,
    is_guardrail     boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);
COMMENT ON TABLE public.factor IS 'Factors: a condition on a datapoint of an object type, used as a guardrail or a question.';
CREATE INDEX factor_org_idx ON public.factor (org_id) WHERE deleted_at IS NULL;
SELECT leadledger.secure_table('public.factor');
