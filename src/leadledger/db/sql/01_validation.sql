-- leadledger core, current state: input validation helpers shared by every domain.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

-- json_type_matches: does a JSON value satisfy a field rule of validate_object? PL/pgSQL on purpose:
-- an inlined SQL version could have its casts folded at plan time before the type test runs.
-- Types: string, uuid, integer, positive_integer, nonnegative_integer, number, nonnegative_number,
-- boolean, object, array, string_array, zip5, email, uuid_or_email. A JSON null counts as absent.
CREATE OR REPLACE FUNCTION leadledger.json_type_matches(p_value jsonb, p_type text)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind text := jsonb_typeof(p_value);
BEGIN
    IF p_type IN ('string', 'uuid', 'zip5', 'email', 'uuid_or_email') AND v_kind IS DISTINCT FROM 'string' THEN
        RETURN false;
    END IF;
    IF p_type IN ('integer', 'positive_integer', 'nonnegative_integer', 'number', 'nonnegative_number')
       AND v_kind IS DISTINCT FROM 'number' THEN
        RETURN false;
    END IF;
    RETURN CASE p_type
        WHEN 'string' THEN true
        WHEN 'uuid' THEN (p_value #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        WHEN 'zip5' THEN (p_value #>> '{}') ~ '^[0-9]{5}$'
        WHEN 'email' THEN (p_value #>> '{}') ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'
        WHEN 'uuid_or_email' THEN leadledger.json_type_matches(p_value, 'uuid')
                                  OR leadledger.json_type_matches(to_jsonb(btrim(p_value #>> '{}')), 'email')
        WHEN 'integer' THEN p_value::numeric = trunc(p_value::numeric)
        WHEN 'positive_integer' THEN p_value::numeric = trunc(p_value::numeric) AND p_value::numeric > 0
        WHEN 'nonnegative_integer' THEN p_value::numeric = trunc(p_value::numeric) AND p_value::numeric >= 0
        WHEN 'number' THEN true
        WHEN 'nonnegative_number' THEN p_value::numeric >= 0
        WHEN 'boolean' THEN v_kind = 'boolean'
        WHEN 'object' THEN v_kind = 'object'
        WHEN 'array' THEN v_kind = 'array'
        WHEN 'string_array' THEN v_kind = 'array' AND NOT EXISTS (
            SELECT 1 FROM jsonb_array_elements(p_value) e WHERE jsonb_typeof(e) <> 'string')
        ELSE false
    END;
END
$$;

-- validate_object: check a JSON object against a field spec, raising 22023 for the first bad
-- field (in field-name order) with its full path: '{"name": "string!", "keywords": "string_array"}'
-- ("!" marks a required field; a required string must not be blank). Unknown fields are allowed.
CREATE OR REPLACE FUNCTION leadledger.validate_object(p_value jsonb, p_path text, p_spec jsonb)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_field text;
    v_rule text;
    v_type text;
    v_item jsonb;
BEGIN
    IF p_value IS NULL OR jsonb_typeof(p_value) <> 'object' THEN
        PERFORM leadledger.invalid_parameter(p_path, 'must be a JSON object');
    END IF;
    FOR v_field, v_rule IN SELECT key, value #>> '{}' FROM jsonb_each(p_spec) ORDER BY key LOOP
        v_type := rtrim(v_rule, '!');
        v_item := p_value -> v_field;
        IF v_item IS NULL OR jsonb_typeof(v_item) = 'null'
           OR (v_type = 'string' AND right(v_rule, 1) = '!' AND btrim(v_item #>> '{}') = '') THEN
            IF right(v_rule, 1) = '!' THEN
                PERFORM leadledger.invalid_parameter(p_path || '.' || v_field, 'is required');
            END IF;
        ELSIF NOT leadledger.json_type_matches(v_item, v_type) THEN
            PERFORM leadledger.invalid_parameter(
                p_path || '.' || v_field,
                format('must be %s, got %s', CASE v_type
                    WHEN 'string' THEN 'a string' WHEN 'uuid' THEN 'a UUID' WHEN 'zip5' THEN 'a 5-digit ZIP code'
                    WHEN 'email' THEN 'an email address' WHEN 'integer' THEN 'an integer'
                    WHEN 'uuid_or_email' THEN 'a user id (UUID) or an email address'
                    WHEN 'positive_integer' THEN 'a positive integer'
                    WHEN 'nonnegative_integer' THEN 'a non-negative integer' WHEN 'number' THEN 'a number'
                    WHEN 'nonnegative_number' THEN 'a non-negative number' WHEN 'boolean' THEN 'true or false'
                    WHEN 'object' THEN 'a JSON object' WHEN 'array' THEN 'a JSON array'
                    WHEN 'string_array' THEN 'an array of strings' ELSE v_type END,
                    left(v_item::text, 80)));
        END IF;
    END LOOP;
END
$$;

-- require_array: raise 22023 unless p_value is a JSON array (of at most p_max_items items).
CREATE OR REPLACE FUNCTION leadledger.require_array(p_value jsonb, p_field text, p_max_items integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_value IS NULL OR jsonb_typeof(p_value) <> 'array' THEN
        PERFORM leadledger.invalid_parameter(
            p_field, format('must be a JSON array, got %s', coalesce(jsonb_typeof(p_value), 'nothing')));
    END IF;
    IF p_max_items IS NOT NULL AND jsonb_array_length(p_value) > p_max_items THEN
        PERFORM leadledger.invalid_parameter(
            p_field, format('has %s items; at most %s are accepted per call', jsonb_array_length(p_value), p_max_items));
    END IF;
END
$$;

GRANT EXECUTE ON FUNCTION leadledger.json_type_matches(jsonb, text) TO leadledger_service;
GRANT EXECUTE ON FUNCTION leadledger.validate_object(jsonb, text, jsonb) TO leadledger_service;
GRANT EXECUTE ON FUNCTION leadledger.require_array(jsonb, text, integer) TO leadledger_service;

-- uuid_or_null: the UUID in p_text, or NULL when it is not one (never raises): for reading ids
-- out of JSON and JWT claims before deciding what to say about them. PL/pgSQL, not SQL: with its
-- SET clause a SQL function is never inlined and is planned again in every transaction
-- (docs/sql-conventions.md, "Small helpers").
CREATE OR REPLACE FUNCTION leadledger.uuid_or_null(p_text text)
RETURNS uuid
LANGUAGE plpgsql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE WHEN p_text ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN p_text::uuid END;
END
$$;
GRANT EXECUTE ON FUNCTION leadledger.uuid_or_null(text) TO leadledger_service;
