-- leadledger core, current state: the envelope every stored function returns.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

-- error_envelope: the one place that turns an SQLSTATE into the error envelope
--   {"success": false, "error", "error_code", "error_detail", "retry_recommended"}.
-- Guarantees: the mapping in docs/sql-conventions.md, exactly:
--   23505 -> 'Duplicate record detected'; 23503 -> 'Referenced record not found';
--   40P01, 40001, 55P03 -> 'Operation conflict, please retry' with retry_recommended true;
--   P0001 and class 22 (bad input) -> the function's own message; anything else ->
--   'Database operation failed'.
-- An error a function raised itself through leadledger.raise_error or invalid_parameter keeps
-- its own message whatever its SQLSTATE, so 'Campaign not found' with 23503 reads as written.
-- They are recognised by the marker those two put at the start of DETAIL ('leadledger:'), not
-- by message or context text: those are translated under another lc_messages. p_context is
-- accepted for the exception block's shape and not used.
-- error_detail always carries the original message (and DETAIL, if any, without the marker).
CREATE OR REPLACE FUNCTION leadledger.error_envelope(
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
            WHEN p_sqlstate = 'P0001' OR left(p_sqlstate, 2) = '22' OR p_detail LIKE 'leadledger:%'
                THEN p_message
            WHEN p_sqlstate = '23505' THEN 'Duplicate record detected'
            WHEN p_sqlstate = '23503' THEN 'Referenced record not found'
            WHEN p_sqlstate IN ('40P01', '40001', '55P03') THEN 'Operation conflict, please retry'
            ELSE 'Database operation failed'
        END,
        'error_code', p_sqlstate,
        'error_detail', CASE
            WHEN nullif(regexp_replace(p_detail, '^leadledger:', ''), '') IS NULL THEN p_message
            ELSE p_message || ' (' || regexp_replace(p_detail, '^leadledger:', '') || ')'
        END,
        'retry_recommended', p_sqlstate IN ('40P01', '40001', '55P03')
    )
$$;

-- ok_envelope: {"success": true} merged with the operation's own fields.
CREATE OR REPLACE FUNCTION leadledger.ok_envelope(p_fields jsonb DEFAULT '{}'::jsonb)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('success', true) || coalesce(p_fields, '{}'::jsonb)
$$;

-- raise_error: every error a function raises on purpose goes through here, with its SQLSTATE,
-- message, optional detail and hint. DETAIL starts with the marker 'leadledger:' (followed by
-- the detail), which is how error_envelope and the Python client tell the function's own
-- errors from the engine's whatever language the server speaks.
CREATE OR REPLACE FUNCTION leadledger.raise_error(
    p_sqlstate text, p_message text, p_detail text DEFAULT NULL, p_hint text DEFAULT NULL
)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_hint IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = p_sqlstate, MESSAGE = p_message,
            DETAIL = 'leadledger:' || coalesce(p_detail, '');
    END IF;
    RAISE EXCEPTION USING ERRCODE = p_sqlstate, MESSAGE = p_message,
        DETAIL = 'leadledger:' || coalesce(p_detail, ''), HINT = p_hint;
END
$$;

-- invalid_parameter: raise SQLSTATE 22023 naming the field and what was wrong. Functions call it
-- before any write, so bad input leaves nothing behind; error_envelope keeps the message.
CREATE OR REPLACE FUNCTION leadledger.invalid_parameter(p_field text, p_problem text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '%: %', p_field, p_problem
        USING ERRCODE = 'invalid_parameter_value', COLUMN = p_field, DETAIL = 'leadledger:';
END
$$;

GRANT EXECUTE ON FUNCTION leadledger.error_envelope(text, text, text, text) TO leadledger_service;
GRANT EXECUTE ON FUNCTION leadledger.ok_envelope(jsonb) TO leadledger_service;
GRANT EXECUTE ON FUNCTION leadledger.invalid_parameter(text, text) TO leadledger_service;
GRANT EXECUTE ON FUNCTION leadledger.raise_error(text, text, text, text) TO leadledger_service;
