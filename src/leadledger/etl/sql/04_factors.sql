-- ETL engine, current state: factor descriptions (004 §2.1-2.3).
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

-- generate_factor_description: the sentence a factor reads as, the function of 004 §2.2 (its
-- parameter names and types). Guardrails are statements, use cases questions, from the formulas
-- in etl_api.factor_type_template and the phrases in etl_api.operator_phrase (the document's
-- tables, seeded by 20261202030100_factor_operators):
--   guardrail: boolean "{object} {operator} {datapoint}", every other type
--              "{object}'s {datapoint} {operator} {value}";
--   use case:  volume "How many {datapoint} does the {object} have?", boolean "Is the {object}
--              {datapoint}?", option "What is the {object}'s {datapoint}?", time "When was the
--              {object} {datapoint}?", place "Where is the {object} {datapoint}?", frequency "How
--              often does the {object} {datapoint}?", reason "Why does the {object} {datapoint}?",
--              entity "What {datapoint} does the {object} use?", similarity "How similar is the
--              {object}'s {datapoint}?".
-- Words are put in as given (the document changes no case) and only once: a name that contains
-- "{value}" stays as written. Where the document's function returns NULL, this returns what its
-- table shows (docs/decisions.md D32): is_null / is_not_null compare with nothing, so their
-- guardrail without a value leaves it out ("Company's description is empty"). A guardrail that needs a
-- value or an operator and has none, or no factor type, is 22023 naming the parameter.
-- As in the document, is_guardrail NULL reads as a use case (IF is_guardrail THEN ... ELSE).
-- Examples (tested as written in tests/test_seed_examples.py): ('time','company','founded',
-- 'equals',NULL,false) -> When was the company founded?; ('option','Company','description',
-- 'is_null',NULL,true) -> Company's description is empty.
CREATE OR REPLACE FUNCTION public.generate_factor_description(
    factor_type public.factor_type_enum,
    object_type_name text,
    datapoint_name text,
    operator_name public.operator_enum,
    value text,
    is_guardrail boolean DEFAULT true
)
RETURNS text
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_template etl_api.factor_type_template;
    v_phrase text;
    v_text text;
BEGIN
    IF factor_type IS NULL THEN
        PERFORM leadledger.invalid_parameter('factor_type', 'is required');
    END IF;
    SELECT * INTO v_template FROM etl_api.factor_type_template t
     WHERE t.factor_type = generate_factor_description.factor_type;
    IF NOT is_guardrail OR is_guardrail IS NULL THEN
        v_text := v_template.use_case;
    ELSE
        IF operator_name IS NULL THEN
            PERFORM leadledger.invalid_parameter('operator_name', 'is required for a guardrail');
        END IF;
        SELECT p.phrase INTO v_phrase FROM etl_api.operator_phrase p WHERE p.operator = operator_name;
        v_text := v_template.guardrail;
        IF value IS NULL AND operator_name IN ('is_null', 'is_not_null') THEN
            v_text := replace(v_text, ' {value}', '');
        ELSIF value IS NULL AND position('{value}' IN v_text) > 0 THEN
            PERFORM leadledger.invalid_parameter('value', format('is required for a %s guardrail with operator %s',
                                                                  factor_type, operator_name));
        END IF;
    END IF;
    -- The caller's words go in with their braces masked (U+E000, a private-use character), so a
    -- name that happens to contain "{value}" is not substituted again; unmasked at the end.
    v_text := replace(v_text, '{object}', replace(coalesce(object_type_name, ''), '{', chr(57344)));
    v_text := replace(v_text, '{datapoint}', replace(coalesce(datapoint_name, ''), '{', chr(57344)));
    v_text := replace(v_text, '{operator}', coalesce(v_phrase, ''));
    v_text := replace(v_text, '{value}', replace(coalesce(value, ''), '{', chr(57344)));
    RETURN replace(v_text, chr(57344), '{');
END
$$;
SELECT leadledger.secure_function('public.generate_factor_description(factor_type_enum, text, text, operator_enum, text, boolean)');
