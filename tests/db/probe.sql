-- Probe functions for the foundation tests: each follows the stored-function contract
-- (docs/sql-conventions.md) and hits one SQLSTATE through a real operation.
CREATE TABLE public.probe_parent (id integer PRIMARY KEY);
CREATE TABLE public.probe_item (
    id integer PRIMARY KEY,
    parent_id integer REFERENCES public.probe_parent (id),
    qty integer NOT NULL DEFAULT 0 CHECK (qty >= 0)
);
INSERT INTO public.probe_parent VALUES (1), (2);
INSERT INTO public.probe_item (id, parent_id) VALUES (1, 1), (2, 1);

-- Inserts one item: 23505 on a repeated id, 23503 on an unknown parent, 23514 on a negative
-- qty, 22023 when p_id is not positive.
CREATE FUNCTION public.probe_insert(p_id integer, p_parent_id integer, p_qty integer DEFAULT 0)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s' SET statement_timeout = '30s' AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
BEGIN
    IF p_id IS NULL OR p_id <= 0 THEN
        PERFORM leadledger.invalid_parameter('p_id', 'must be a positive integer');
    END IF;
    INSERT INTO public.probe_item (id, parent_id, qty) VALUES (p_id, p_parent_id, p_qty);
    RETURN leadledger.ok_envelope(jsonb_build_object('id', p_id));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END $$;
SELECT leadledger.secure_function('public.probe_insert(integer, integer, integer)');

-- Raises the given SQLSTATE with the given message through leadledger.raise_error (the
-- function's own error: its message is kept).
CREATE FUNCTION public.probe_raise(p_sqlstate text, p_message text)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
BEGIN
    INSERT INTO public.probe_item (id) VALUES (1000);
    PERFORM leadledger.raise_error(p_sqlstate, p_message, 'probe detail');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END $$;

-- A bare RAISE without the marker: not recognised as the function's own (a raise_error call is
-- the only way), so it is mapped like an engine error.
CREATE FUNCTION public.probe_bare_raise(p_sqlstate text, p_message text)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_sqlstate, MESSAGE = p_message;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END $$;

-- Locks item p_first, waits p_pause seconds, locks item p_second: two callers with opposite
-- orders deadlock (40P01, found after deadlock_timeout, 1 s by default).
CREATE FUNCTION public.probe_lock_pair(p_first integer, p_second integer, p_pause float8 DEFAULT 0)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s' AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
BEGIN
    UPDATE public.probe_item SET qty = qty + 1 WHERE id = p_first;
    PERFORM pg_sleep(p_pause);
    UPDATE public.probe_item SET qty = qty + 1 WHERE id = p_second;
    RETURN leadledger.ok_envelope(jsonb_build_object('first', p_first, 'second', p_second));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END $$;

-- Bumps item p_id, waiting at most 300 ms for its lock: a held lock gives 55P03.
CREATE FUNCTION public.probe_lock_one(p_id integer)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET lock_timeout = '300ms' AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
BEGIN
    UPDATE public.probe_item SET qty = qty + 1 WHERE id = p_id;
    RETURN leadledger.ok_envelope(jsonb_build_object('id', p_id));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END $$;

-- Bumps an item's qty: under a caller's REPEATABLE READ snapshot that another transaction has
-- since changed, this is a serialization failure (40001).
CREATE FUNCTION public.probe_bump(p_id integer)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text; v_qty integer;
BEGIN
    UPDATE public.probe_item SET qty = qty + 1 WHERE id = p_id RETURNING qty INTO v_qty;
    RETURN leadledger.ok_envelope(jsonb_build_object('qty', v_qty));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END $$;

-- Sleeps: a runaway call for the statement-timeout test (no exception block: 57014 propagates).
CREATE FUNCTION public.probe_sleep(p_seconds float8)
RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(p_seconds);
    RETURN leadledger.ok_envelope(jsonb_build_object('slept', p_seconds));
END $$;

-- A table-returning read function.
CREATE FUNCTION public.probe_items(p_parent_id integer)
RETURNS TABLE (id integer, qty integer) LANGUAGE sql STABLE AS $$
    SELECT id, qty FROM public.probe_item WHERE parent_id = p_parent_id ORDER BY id
$$;

-- Without an exception block: engine errors are raised to the caller as they are.
CREATE FUNCTION public.probe_insert_raw(p_id integer)
RETURNS jsonb LANGUAGE sql AS $$
    INSERT INTO public.probe_item (id) VALUES (p_id) RETURNING jsonb_build_object('success', true, 'id', id)
$$;
