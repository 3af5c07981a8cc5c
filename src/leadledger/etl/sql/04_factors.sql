-- ETL engine, current state: factor descriptions.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

-- generate_factor_description: the sentence a factor reads as (parameter names as the seed plan
-- gives them). Guardrails are statements, use cases questions; an unknown factor type is 22023.
-- Examples: ('volume','Company','employees','greater_than','100') -> Company's employees is more
-- than 100; ('boolean','Company','public','equals',NULL) -> Company is public;
-- ('volume','company','employees',...,false) -> How many employees does the company have?
CREATE OR REPLACE FUNCTION public.generate_factor_description(
    factor_type text,
    object_type_name text,
    datapoint_name text,
    operator_name operator_enum,
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
    v_phrase etl_api.operator_phrase;
    v_text text;
BEGIN
    SELECT * INTO v_template FROM etl_api.factor_type_template t WHERE t.factor_type = generate_factor_description.factor_type;
    IF NOT FOUND THEN
        PERFORM leadledger.invalid_parameter('factor_type', format(
            'must be volume, boolean, option, time, place, frequency, reason, entity or similarity, got %s',
            coalesce(quote_literal(generate_factor_description.factor_type), 'nothing')));
    END IF;
    SELECT * INTO v_phrase FROM etl_api.operator_phrase p WHERE p.operator = coalesce(operator_name, 'equals');
    v_text := CASE
        WHEN NOT coalesce(is_guardrail, true) THEN v_template.use_case
        WHEN v_phrase.negated THEN v_template.guardrail_negated
        ELSE v_template.guardrail
    END;
    -- The caller's text goes in with its braces masked (U+E000, a private-use character), so a
    -- name that happens to contain "{value}" is not substituted again; unmasked at the end.
    -- is_empty / is_not_empty compare with nothing: their value is left out.
    v_text := replace(v_text, '{Object}', replace(coalesce(object_type_name, ''), '{', chr(57344)));
    v_text := replace(v_text, '{object}', replace(lower(coalesce(object_type_name, '')), '{', chr(57344)));
    v_text := replace(v_text, '{datapoint}', replace(coalesce(datapoint_name, ''), '{', chr(57344)));
    v_text := replace(v_text, '{operator}', v_phrase.phrase);
    v_text := replace(v_text, '{value}', CASE WHEN operator_name IN ('is_empty', 'is_not_empty') THEN ''
                                              ELSE replace(coalesce(value, ''), '{', chr(57344)) END);
    RETURN replace(btrim(regexp_replace(v_text, '\s+', ' ', 'g')), chr(57344), '{');
END
$$;
SELECT leadledger.secure_function('public.generate_factor_description(text, text, text, operator_enum, text, boolean)');
