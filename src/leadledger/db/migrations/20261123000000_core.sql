-- leadledger core: the private `leadledger` schema, the service role, and the shared helpers
-- every stored function of every domain uses (the error envelope and the privilege policy).
--
-- Plain SQL with no transaction control of its own: the leadledger runner applies it in one
-- transaction, `psql -1 -f` and the Supabase CLI can apply it unchanged.

-- The service role. Roles are cluster-wide, so two databases of one cluster migrating at the
-- same time can both find it missing; the loser of that race sees duplicate_object (or a
-- unique violation on pg_authid) and carries on.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'leadledger_service') THEN
        CREATE ROLE leadledger_service NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
END
$$;

-- Supabase's service_role (and through it the Python service and workers on Supabase) acts as
-- leadledger_service.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
        GRANT leadledger_service TO service_role;
    END IF;
END
$$;

CREATE SCHEMA leadledger;
COMMENT ON SCHEMA leadledger IS
    'leadledger internals: helpers used by the public stored functions; not exposed through PostgREST.';
REVOKE ALL ON SCHEMA leadledger FROM PUBLIC;
GRANT USAGE ON SCHEMA leadledger TO leadledger_service;

-- error_envelope: the one place that turns an SQLSTATE into the error envelope
--   {"success": false, "error", "error_code", "error_detail", "retry_recommended"}.
-- Guarantees: the mapping in docs/sql-conventions.md, exactly:
--   23505 -> 'Duplicate record detected'; 23503 -> 'Referenced record not found';
--   40P01, 40001, 55P03 -> 'Operation conflict, please retry' with retry_recommended true;
--   P0001 and class 22 (bad input) -> the function's own message; anything else ->
--   'Database operation failed'.
-- An error a function raised itself with RAISE (its PL/pgSQL context ends in "at RAISE") keeps
-- its own message whatever its SQLSTATE, so 'Campaign not found' with 23503 reads as written.
-- error_detail always carries the original message (and DETAIL, if any) for the logs.
CREATE FUNCTION leadledger.error_envelope(
    p_sqlstate text,
    p_message text,
    p_detail text DEFAULT NULL,
    p_context text DEFAULT NULL
) RETURNS jsonb
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'success', false,
        'error', CASE
            WHEN p_sqlstate = 'P0001'
                 OR left(p_sqlstate, 2) = '22'
                 OR split_part(coalesce(p_context, ''), E'\n', 1) LIKE '% at RAISE'
                THEN p_message
            WHEN p_sqlstate = '23505' THEN 'Duplicate record detected'
            WHEN p_sqlstate = '23503' THEN 'Referenced record not found'
            WHEN p_sqlstate IN ('40P01', '40001', '55P03') THEN 'Operation conflict, please retry'
            ELSE 'Database operation failed'
        END,
        'error_code', p_sqlstate,
        'error_detail', CASE
            WHEN nullif(p_detail, '') IS NULL THEN p_message
            ELSE p_message || ' (' || p_detail || ')'
        END,
        'retry_recommended', p_sqlstate IN ('40P01', '40001', '55P03')
    )
$$;

-- ok_envelope: {"success": true} merged with the operation's own fields.
CREATE FUNCTION leadledger.ok_envelope(p_fields jsonb DEFAULT '{}'::jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('success', true) || coalesce(p_fields, '{}'::jsonb)
$$;

-- invalid_parameter: raise SQLSTATE 22023 naming the field and what was wrong. Functions call it
-- before any write, so bad input leaves nothing behind; error_envelope keeps the message.
CREATE FUNCTION leadledger.invalid_parameter(p_field text, p_problem text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '%: %', p_field, p_problem
        USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field;
END
$$;

-- json_type_matches: does a JSON value satisfy a field rule of validate_object? PL/pgSQL on purpose:
-- an inlined SQL version could have its casts folded at plan time before the type test runs.
-- Types: string, uuid, integer, positive_integer, nonnegative_integer, number, nonnegative_number,
-- boolean, object, array, string_array, zip5, email. A JSON null counts as absent.
CREATE FUNCTION leadledger.json_type_matches(p_value jsonb, p_type text)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind text := jsonb_typeof(p_value);
BEGIN
    IF p_type IN ('string', 'uuid', 'zip5', 'email') AND v_kind IS DISTINCT FROM 'string' THEN
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
CREATE FUNCTION leadledger.validate_object(p_value jsonb, p_path text, p_spec jsonb)
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
CREATE FUNCTION leadledger.require_array(p_value jsonb, p_field text, p_max_items integer DEFAULT NULL)
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

-- revoke_from_everyone: REVOKE ALL on one of our objects from PUBLIC and from Supabase's API
-- roles anon and authenticated where they exist (Supabase's default privileges grant them
-- rights on every new function and table, which revoking from PUBLIC alone does not undo).
-- p_kind is FUNCTION or TABLE; p_object a regprocedure or regclass rendered by PostgreSQL (a
-- quoted catalog reference), never user input. Used by secure_function and secure_table.
CREATE FUNCTION leadledger.revoke_from_everyone(p_kind text, p_object text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_role text;
BEGIN
    IF p_kind NOT IN ('FUNCTION', 'TABLE') THEN
        RAISE EXCEPTION 'revoke_from_everyone: unknown object kind %', p_kind;
    END IF;
    EXECUTE format('REVOKE ALL ON %s %s FROM PUBLIC', p_kind, p_object);
    FOREACH v_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
            EXECUTE format('REVOKE ALL ON %s %s FROM %I', p_kind, p_object, v_role);
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION leadledger.revoke_from_everyone(text, text) FROM PUBLIC;

-- secure_function: the privilege policy of every public stored function, in one place.
-- Revokes EXECUTE from PUBLIC and from Supabase's anon and authenticated roles (which Supabase
-- grants by default privileges), and grants it to leadledger_service. Functions meant for end
-- users pass p_end_user => true to keep `authenticated`; they check the caller's tenant
-- themselves. The statements are built from a regprocedure (a catalog reference quoted by
-- PostgreSQL), never from user input.
CREATE FUNCTION leadledger.secure_function(p_function regprocedure, p_end_user boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM leadledger.revoke_from_everyone('FUNCTION', p_function::text);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO leadledger_service', p_function);
    IF p_end_user AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO authenticated', p_function);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION leadledger.secure_function(regprocedure, boolean) FROM PUBLIC;
-- secure_table: the privilege policy for a table of ours in an API-exposed schema. Tables are
-- written only through the stored functions, which run as the table owner. Revokes everything
-- from PUBLIC and from Supabase's API roles anon and authenticated where they exist (Supabase's
-- default privileges grant them ALL on every new table in public, so revoking from PUBLIC alone
-- would leave the tables open through PostgREST); with p_service_reads grants SELECT to
-- leadledger_service. Enables row level security with, for p_service_reads, one policy letting
-- leadledger_service read every row: a grant added later by mistake still shows no row to an
-- API role. The owner (the functions) is not restricted: RLS is enabled, not forced.
CREATE FUNCTION leadledger.secure_table(p_table regclass, p_service_reads boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM leadledger.revoke_from_everyone('TABLE', p_table::text);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_table);
    IF p_service_reads THEN
        EXECUTE format('GRANT SELECT ON TABLE %s TO leadledger_service', p_table);
        EXECUTE format('CREATE POLICY leadledger_service_reads ON %s FOR SELECT TO leadledger_service USING (true)',
                       p_table);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION leadledger.secure_table(regclass, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION leadledger.error_envelope(text, text, text, text) TO leadledger_service;
GRANT EXECUTE ON FUNCTION leadledger.ok_envelope(jsonb) TO leadledger_service;
GRANT EXECUTE ON FUNCTION leadledger.invalid_parameter(text, text) TO leadledger_service;
GRANT EXECUTE ON FUNCTION leadledger.json_type_matches(jsonb, text) TO leadledger_service;
GRANT EXECUTE ON FUNCTION leadledger.validate_object(jsonb, text, jsonb) TO leadledger_service;
GRANT EXECUTE ON FUNCTION leadledger.require_array(jsonb, text, integer) TO leadledger_service;
