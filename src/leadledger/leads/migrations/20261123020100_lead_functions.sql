-- Leads and conversations, part 2: the stored functions. Lock order: lead -> conversation ->
-- message. Functions meant for end users (Supabase rpc() with a user's JWT) check the caller's
-- tenant themselves with leadledger.assert_tenant.

-- ---------------------------------------------------------------------------------------------
-- Helpers
-- ---------------------------------------------------------------------------------------------

-- jwt_user_id: the caller's user id when an end user calls through PostgREST (role
-- authenticated in request.jwt.claims); NULL for the service role and direct connections; an
-- authenticated token without a user id in sub is refused (42501).
CREATE FUNCTION leadledger.jwt_user_id()
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
BEGIN
    IF v_claims IS NULL OR v_claims ->> 'role' IS DISTINCT FROM 'authenticated' THEN
        RETURN NULL;
    END IF;
    -- An end user whose token names no user must not pass for the service (which may act for
    -- every user): refuse.
    IF coalesce(v_claims ->> 'sub', '') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        RAISE EXCEPTION 'Not allowed: the token names no user' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN (v_claims ->> 'sub')::uuid;
END
$$;

-- assert_tenant: an end user may act only for himself (42501 otherwise); the service may act
-- for any user. Also checks the user exists ('User not found', 23503), and records p_user_id
-- as the user this call acts for (leadledger.acting_user, local to the transaction), which the
-- audit log names when no JWT or leadledger.actor says who acts (leadledger.current_actor).
CREATE FUNCTION leadledger.assert_tenant(p_user_id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_user_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_user_id', 'is required');
    END IF;
    PERFORM leadledger.lead_scope(p_user_id);  -- the 42501 check and the acting user, in one place
    IF NOT EXISTS (SELECT 1 FROM public.app_users WHERE id = p_user_id) THEN
        RAISE EXCEPTION 'User not found'
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('no user with id %s', p_user_id);
    END IF;
END
$$;

-- lead_scope: the owner a call on one lead is limited to: the end user of the JWT (who may not
-- name another user in p_user_id: 42501, as in assert_tenant), else p_user_id, else NULL (the
-- service, acting on any owner's lead). Records that owner as the acting user for the audit
-- log, as assert_tenant does (cleared when the service acts for no one in particular).
CREATE FUNCTION leadledger.lead_scope(p_user_id uuid)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_caller uuid := leadledger.jwt_user_id();
    v_owner uuid := coalesce(v_caller, p_user_id);
BEGIN
    IF v_caller IS NOT NULL AND p_user_id IS NOT NULL AND v_caller <> p_user_id THEN
        RAISE EXCEPTION 'Not allowed for this user' USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('leadledger.acting_user', coalesce(v_owner::text, ''), true);
    RETURN v_owner;
END
$$;

-- normalize_phone: E.164 from a number as people write it ("+1 (512) 555-0100", "0044 20 ...",
-- WhatsApp's "15125550100" when p_assume_plus); NULL when it cannot be one.
CREATE FUNCTION leadledger.normalize_phone(p_phone text, p_assume_plus boolean DEFAULT false)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN n ~ '^\+[1-9][0-9]{6,14}$' THEN n END
      FROM (SELECT CASE
                WHEN s LIKE '+%' THEN s
                WHEN s LIKE '00%' THEN '+' || substr(s, 3)
                WHEN p_assume_plus THEN '+' || s
                ELSE s END AS n
              FROM (SELECT regexp_replace(btrim(p_phone), '[[:space:]().-]', '', 'g') AS s) stripped) candidate
$$;

-- check_lead_fields: 22023 naming the first bad field of a lead (p_prefix is the field path).
CREATE FUNCTION leadledger.lead_field_problem(
    p_phone text, p_name text, p_lead_type text, p_lead_status text, p_conversation_status text
)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN p_phone IS NULL OR btrim(p_phone) = '' THEN 'customer_phone: is required'
        WHEN leadledger.normalize_phone(p_phone) IS NULL
            THEN format('customer_phone: must be an E.164 number like +15125550100, got %s', quote_literal(p_phone))
        WHEN length(p_name) > 200 THEN 'customer_name: must be at most 200 characters'
        WHEN p_lead_type IS NULL THEN 'lead_type: is required'
        WHEN p_lead_type NOT IN ('inquiry', 'quote', 'booking', 'order', 'support', 'complaint', 'other')
            THEN format('lead_type: must be one of inquiry, quote, booking, order, support, complaint, other, got %s',
                        quote_literal(p_lead_type))
        WHEN p_lead_status IS NULL THEN 'lead_status: is required'
        WHEN p_lead_status NOT IN ('new', 'contacted', 'qualified', 'converted', 'lost')
            THEN format('lead_status: must be one of new, contacted, qualified, converted, lost, got %s',
                        quote_literal(p_lead_status))
        WHEN p_conversation_status IS NULL THEN 'conversation_status: is required'
        WHEN p_conversation_status NOT IN ('active', 'waiting', 'closed', 'archived')
            THEN format('conversation_status: must be one of active, waiting, closed, archived, got %s',
                        quote_literal(p_conversation_status))
    END
$$;

-- ---------------------------------------------------------------------------------------------
-- 1. create_lead_with_conversation
-- ---------------------------------------------------------------------------------------------
-- Creates a lead and its conversation together, or neither.
-- Guarantees: all input is checked before the first insert (22023 naming the field); both
-- inserts run in the function's one transaction, and the deferred constraint trigger
-- leads_need_conversation refuses any lead without a conversation at commit; a second live lead
-- for the same user and phone is refused by leads_user_phone_live_key (23505). Returns JSON (the
-- seed's type) with lead_id and conversation_id. End users may create leads only for themselves.
CREATE FUNCTION public.create_lead_with_conversation(
    p_user_id uuid,
    p_customer_phone text,
    p_customer_name text,
    p_lead_type text,
    p_details text DEFAULT NULL,
    p_conversation_status text DEFAULT 'active',
    p_lead_status text DEFAULT 'new'
)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_problem text;
    v_lead_id uuid;
    v_conversation_id uuid;
BEGIN
    PERFORM leadledger.assert_tenant(p_user_id);
    v_problem := leadledger.lead_field_problem(
        p_customer_phone, p_customer_name, p_lead_type, p_lead_status, p_conversation_status);
    IF v_problem IS NOT NULL THEN
        PERFORM leadledger.invalid_parameter('p_' || split_part(v_problem, ':', 1),
                                             btrim(substr(v_problem, position(':' IN v_problem) + 1)));
    END IF;

    INSERT INTO public.leads (user_id, customer_phone, customer_name, lead_type, status, details)
    VALUES (p_user_id, leadledger.normalize_phone(p_customer_phone), nullif(btrim(p_customer_name), ''),
            p_lead_type, p_lead_status, p_details)
    RETURNING id INTO v_lead_id;
    INSERT INTO public.conversations (lead_id, user_id, status)
    VALUES (v_lead_id, p_user_id, p_conversation_status)
    RETURNING id INTO v_conversation_id;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'lead_id', v_lead_id, 'conversation_id', v_conversation_id,
        'customer_phone', leadledger.normalize_phone(p_customer_phone)))::json;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context)::json;
END
$$;
SELECT leadledger.secure_function('public.create_lead_with_conversation(uuid, text, text, text, text, text, text)', true);

-- ---------------------------------------------------------------------------------------------
-- 2. create_leads_with_conversations (bulk import)
-- ---------------------------------------------------------------------------------------------
-- Imports many leads, each with its conversation: all or nothing.
-- Guarantees: every item is checked first; if any is bad (a malformed field, a phone repeated in
-- the batch or already a live lead of the user) nothing is written and the envelope lists every
-- bad item as {index, field, reason} in "errors". The inserts are set-based and in one
-- transaction; a concurrent insert of the same phone makes the whole call fail (23505). Leads
-- are inserted in phone order, so concurrent imports of overlapping phones wait for each other in
-- one order and cannot deadlock.
CREATE FUNCTION public.create_leads_with_conversations(p_user_id uuid, p_leads jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '60s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_errors jsonb;
    v_count integer;
    v_created jsonb;
BEGIN
    PERFORM leadledger.assert_tenant(p_user_id);
    PERFORM leadledger.require_array(p_leads, 'p_leads', 5000);
    IF jsonb_array_length(p_leads) = 0 THEN
        PERFORM leadledger.invalid_parameter('p_leads', 'must contain at least one lead');
    END IF;

    WITH items AS (
        SELECT (i.o - 1)::integer AS idx, i.e,
               CASE WHEN jsonb_typeof(i.e) = 'object' THEN leadledger.normalize_phone(i.e ->> 'customer_phone') END AS phone
          FROM jsonb_array_elements(p_leads) WITH ORDINALITY AS i(e, o)
    ), problems AS (
        SELECT it.idx, CASE
            WHEN jsonb_typeof(it.e) <> 'object' THEN 'item: must be a JSON object'
            WHEN jsonb_typeof(it.e -> 'customer_name') NOT IN ('string', 'null') THEN 'customer_name: must be a string'
            WHEN jsonb_typeof(it.e -> 'details') NOT IN ('string', 'null') THEN 'details: must be a string'
            ELSE coalesce(
                leadledger.lead_field_problem(it.e ->> 'customer_phone', it.e ->> 'customer_name',
                                              coalesce(it.e ->> 'lead_type', it.e ->> 'type'),
                                              coalesce(it.e ->> 'lead_status', 'new'),
                                              coalesce(it.e ->> 'conversation_status', 'active')),
                CASE WHEN count(*) OVER (PARTITION BY it.phone) > 1
                     THEN 'customer_phone: ' || it.phone || ' appears more than once in this import' END,
                CASE WHEN EXISTS (SELECT 1 FROM public.leads l
                                   WHERE l.user_id = p_user_id AND l.customer_phone = it.phone AND l.deleted_at IS NULL)
                     THEN 'customer_phone: ' || it.phone || ' is already a lead' END)
            END AS problem
          FROM items it
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'index', idx, 'field', split_part(problem, ':', 1),
               'reason', btrim(substr(problem, position(':' IN problem) + 1))) ORDER BY idx), '[]'::jsonb),
           count(*)
      INTO v_errors, v_count
      FROM problems WHERE problem IS NOT NULL;

    IF v_count > 0 THEN
        RETURN leadledger.error_envelope('22023', format('%s of %s leads are invalid: %s', v_count,
                   jsonb_array_length(p_leads),
                   (SELECT string_agg(format('[%s] %s: %s', e ->> 'index', e ->> 'field', e ->> 'reason'), '; ')
                      FROM jsonb_array_elements(v_errors) e)))
               || jsonb_build_object('errors', v_errors);
    END IF;

    WITH items AS (
        SELECT (i.o - 1)::integer AS idx, i.e, leadledger.normalize_phone(i.e ->> 'customer_phone') AS phone
          FROM jsonb_array_elements(p_leads) WITH ORDINALITY AS i(e, o)
    ), new_leads AS (
        INSERT INTO public.leads (user_id, customer_phone, customer_name, lead_type, status, source, details)
        SELECT p_user_id, it.phone, nullif(btrim(it.e ->> 'customer_name'), ''),
               coalesce(it.e ->> 'lead_type', it.e ->> 'type'), coalesce(it.e ->> 'lead_status', 'new'),
               'import', it.e ->> 'details'
          FROM items it ORDER BY it.phone
        RETURNING id, customer_phone
    ), new_conversations AS (
        INSERT INTO public.conversations (lead_id, user_id, status)
        SELECT nl.id, p_user_id, coalesce(it.e ->> 'conversation_status', 'active')
          FROM new_leads nl JOIN items it ON it.phone = nl.customer_phone
        RETURNING id, lead_id
    )
    SELECT jsonb_agg(jsonb_build_object('index', it.idx, 'lead_id', nl.id, 'conversation_id', nc.id) ORDER BY it.idx)
      INTO v_created
      FROM new_leads nl
      JOIN new_conversations nc ON nc.lead_id = nl.id
      JOIN items it ON it.phone = nl.customer_phone;

    RETURN leadledger.ok_envelope(jsonb_build_object('created', jsonb_array_length(v_created), 'leads', v_created));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.create_leads_with_conversations(uuid, jsonb)', true);

-- ---------------------------------------------------------------------------------------------
-- 3. WhatsApp: record_whatsapp_message, record_whatsapp_outgoing, update_whatsapp_message_status
-- ---------------------------------------------------------------------------------------------

-- leadledger.open_conversation: the lead's open conversation, created when it has none. The
-- caller holds the lead's row lock (lead_for_phone), so the lead cannot be soft-deleted meanwhile.
-- Guarantees: at most one open conversation per lead (conversations_lead_open_key); of racing
-- callers one inserts and the others, after waiting for it, find that one; if the open one was
-- closed between the insert and the look-up, it tries again: it never returns no conversation.
CREATE FUNCTION leadledger.open_conversation(p_lead_id uuid, p_user_id uuid, OUT conversation_id uuid, OUT created boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    LOOP
        INSERT INTO public.conversations (lead_id, user_id, channel, status)
        VALUES (p_lead_id, p_user_id, 'whatsapp', 'active')
        ON CONFLICT (lead_id) WHERE status IN ('active', 'waiting') AND deleted_at IS NULL DO NOTHING
        RETURNING id INTO conversation_id;
        created := conversation_id IS NOT NULL;
        EXIT WHEN created;
        SELECT c.id INTO conversation_id FROM public.conversations c
         WHERE c.lead_id = p_lead_id AND c.status IN ('active', 'waiting') AND c.deleted_at IS NULL;
        EXIT WHEN FOUND;
    END LOOP;
END
$$;

-- leadledger.lead_for_phone: the user's live lead for a phone, created (with source whatsapp)
-- when there is none, and row-locked (FOR NO KEY UPDATE; lead first: the lock order) until the
-- caller's transaction ends.
-- Guarantees: one live lead per user and phone (leads_user_phone_live_key); racing callers: one
-- inserts, the others wait for it and find it. The lock makes a concurrent soft_delete_lead wait
-- for the caller, so a message never lands in, or opens, a conversation of a lead deleted
-- meanwhile; a lead deleted between the insert attempt and the lock is no longer live (the
-- locking read rechecks deleted_at), and the next round creates a new lead.
CREATE FUNCTION leadledger.lead_for_phone(
    p_user_id uuid, p_phone text, p_customer_name text, OUT lead_id uuid, OUT created boolean
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    LOOP
        INSERT INTO public.leads (user_id, customer_phone, customer_name, lead_type, source)
        VALUES (p_user_id, p_phone, nullif(btrim(p_customer_name), ''), 'inquiry', 'whatsapp')
        ON CONFLICT (user_id, customer_phone) WHERE deleted_at IS NULL DO NOTHING
        RETURNING id INTO lead_id;
        created := lead_id IS NOT NULL;
        EXIT WHEN created;
        SELECT l.id INTO lead_id FROM public.leads l
         WHERE l.user_id = p_user_id AND l.customer_phone = p_phone AND l.deleted_at IS NULL
           FOR NO KEY UPDATE;
        EXIT WHEN FOUND;
    END LOOP;
    IF NOT created AND nullif(btrim(p_customer_name), '') IS NOT NULL THEN
        UPDATE public.leads SET customer_name = btrim(p_customer_name), updated_at = now()
         WHERE id = lead_id AND customer_name IS NULL;
    END IF;
END
$$;

-- leadledger.stored_message: the duplicate answer for a WhatsApp message id that is already
-- stored for this user, or NULL when the id is new. Shared by record_whatsapp_message and
-- record_whatsapp_outgoing, so a repeated delivery or a retried record answers the same way.
-- Guarantees: a message id stored for another user is 'Duplicate record detected' (23505) and
-- names none of that user's rows, so a WhatsApp id never reveals another tenant's lead.
CREATE FUNCTION leadledger.stored_message(p_user_id uuid, p_wa_message_id text)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_existing record;
BEGIN
    SELECT m.id, m.conversation_id, c.lead_id, c.user_id INTO v_existing
      FROM public.messages m JOIN public.conversations c ON c.id = m.conversation_id
     WHERE m.wa_message_id = p_wa_message_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_existing.user_id IS DISTINCT FROM p_user_id THEN
        RAISE EXCEPTION 'Duplicate record detected' USING ERRCODE = 'unique_violation',
            DETAIL = 'the message id belongs to another user';
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'duplicate', true, 'message_id', v_existing.id, 'wa_message_id', p_wa_message_id,
        'lead_id', v_existing.lead_id, 'conversation_id', v_existing.conversation_id, 'lead_created', false));
END
$$;

-- record_whatsapp_message: stores one incoming WhatsApp message, once.
-- Guarantees: idempotent by p_wa_message_id (unique messages.wa_message_id, INSERT ... ON
-- CONFLICT DO NOTHING): the same message delivered twice, or ten times at once, is stored once
-- and later deliveries answer duplicate: true with the stored ids. For a number with no live lead
-- the lead, its conversation and the message are created in this one transaction; for a known
-- number the message goes to the lead's open conversation (opened if all are closed). Locks:
-- lead -> conversation -> message.
CREATE FUNCTION public.record_whatsapp_message(
    p_user_id uuid,
    p_wa_message_id text,
    p_from_phone text,
    p_body text,
    p_customer_name text DEFAULT NULL,
    p_message_type text DEFAULT 'text',
    p_sent_at timestamptz DEFAULT NULL,
    p_payload jsonb DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_phone text := leadledger.normalize_phone(p_from_phone, true);
    v_duplicate jsonb;
    v_lead record;
    v_conversation record;
    v_message_id uuid;
BEGIN
    PERFORM leadledger.assert_tenant(p_user_id);
    IF p_wa_message_id IS NULL OR btrim(p_wa_message_id) = '' THEN
        PERFORM leadledger.invalid_parameter('p_wa_message_id', 'is required');
    END IF;
    IF length(p_wa_message_id) > 256 THEN
        PERFORM leadledger.invalid_parameter('p_wa_message_id', 'must be at most 256 characters');
    END IF;
    IF v_phone IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_from_phone', format(
            'must be a phone number in international form, got %s', coalesce(quote_literal(p_from_phone), 'nothing')));
    END IF;
    IF p_message_type IS NULL OR p_message_type !~ '^[a-z_]{1,32}$' THEN
        PERFORM leadledger.invalid_parameter('p_message_type', 'must be a WhatsApp message type such as text');
    END IF;

    v_duplicate := leadledger.stored_message(p_user_id, p_wa_message_id);
    IF v_duplicate IS NOT NULL THEN
        RETURN v_duplicate;
    END IF;

    SELECT * INTO v_lead FROM leadledger.lead_for_phone(p_user_id, v_phone, p_customer_name);
    SELECT * INTO v_conversation FROM leadledger.open_conversation(v_lead.lead_id, p_user_id);

    INSERT INTO public.messages (conversation_id, direction, message_type, body, wa_message_id, status, payload, sent_at)
    VALUES (v_conversation.conversation_id, 'inbound', p_message_type, p_body, p_wa_message_id, 'received',
            p_payload, coalesce(p_sent_at, now()))
    ON CONFLICT (wa_message_id) DO NOTHING
    RETURNING id INTO v_message_id;
    IF v_message_id IS NULL THEN
        -- A concurrent delivery of the same message committed first: report it as a duplicate.
        RETURN leadledger.stored_message(p_user_id, p_wa_message_id);
    END IF;

    UPDATE public.conversations
       SET last_message_at = greatest(last_message_at, coalesce(p_sent_at, now())), updated_at = now()
     WHERE id = v_conversation.conversation_id;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'duplicate', false, 'message_id', v_message_id, 'wa_message_id', p_wa_message_id,
        'lead_id', v_lead.lead_id, 'conversation_id', v_conversation.conversation_id, 'lead_created', v_lead.created,
        'conversation_created', v_conversation.created));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function(
    'public.record_whatsapp_message(uuid, text, text, text, text, text, timestamptz, jsonb)');

-- record_whatsapp_outgoing: records a message the service has just sent through the WhatsApp
-- Cloud API (it is sent first, so a failed send writes nothing). With p_create_lead the lead
-- and its conversation are created with it when the number has no live lead (same guarantees as
-- record_whatsapp_message, the lead locked first); without it an unknown number is 'No lead for
-- this number' (23503). Idempotent by p_wa_message_id like record_whatsapp_message (unique
-- messages.wa_message_id, ON CONFLICT DO NOTHING): a retried record answers duplicate: true
-- with the stored ids and writes nothing.
CREATE FUNCTION public.record_whatsapp_outgoing(
    p_user_id uuid,
    p_to_phone text,
    p_body text,
    p_wa_message_id text,
    p_create_lead boolean DEFAULT false,
    p_customer_name text DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_phone text := leadledger.normalize_phone(p_to_phone, true);
    v_duplicate jsonb;
    v_lead record;
    v_conversation record;
    v_message_id uuid;
BEGIN
    PERFORM leadledger.assert_tenant(p_user_id);
    IF v_phone IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_to_phone', format(
            'must be a phone number in international form, got %s', coalesce(quote_literal(p_to_phone), 'nothing')));
    END IF;
    IF p_wa_message_id IS NULL OR btrim(p_wa_message_id) = '' THEN
        PERFORM leadledger.invalid_parameter('p_wa_message_id', 'is required');
    END IF;
    IF length(p_wa_message_id) > 256 THEN
        PERFORM leadledger.invalid_parameter('p_wa_message_id', 'must be at most 256 characters');
    END IF;
    IF p_create_lead AND nullif(btrim(p_customer_name), '') IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_customer_name', 'is required to create a lead');
    END IF;

    v_duplicate := leadledger.stored_message(p_user_id, p_wa_message_id);
    IF v_duplicate IS NOT NULL THEN
        RETURN v_duplicate;
    END IF;

    IF p_create_lead THEN
        SELECT * INTO v_lead FROM leadledger.lead_for_phone(p_user_id, v_phone, p_customer_name);
    ELSE
        SELECT l.id AS lead_id, false AS created INTO v_lead FROM public.leads l
         WHERE l.user_id = p_user_id AND l.customer_phone = v_phone AND l.deleted_at IS NULL
           FOR NO KEY UPDATE;  -- as lead_for_phone: a concurrent soft delete waits for this call
        IF NOT FOUND THEN
            RAISE EXCEPTION 'No lead for this number' USING ERRCODE = 'foreign_key_violation',
                DETAIL = format('user %s has no live lead for %s', p_user_id, v_phone);
        END IF;
    END IF;
    SELECT * INTO v_conversation FROM leadledger.open_conversation(v_lead.lead_id, p_user_id);

    INSERT INTO public.messages (conversation_id, direction, message_type, body, wa_message_id, status)
    VALUES (v_conversation.conversation_id, 'outbound', 'text', p_body, p_wa_message_id, 'sent')
    ON CONFLICT (wa_message_id) DO NOTHING
    RETURNING id INTO v_message_id;
    IF v_message_id IS NULL THEN
        -- A concurrent record of the same message committed first (it held the lead's lock).
        RETURN leadledger.stored_message(p_user_id, p_wa_message_id);
    END IF;
    UPDATE public.conversations SET last_message_at = now(), updated_at = now()
     WHERE id = v_conversation.conversation_id;

    RETURN leadledger.ok_envelope(jsonb_build_object(
        'duplicate', false, 'message_id', v_message_id, 'wa_message_id', p_wa_message_id, 'lead_id', v_lead.lead_id,
        'conversation_id', v_conversation.conversation_id, 'lead_created', v_lead.created));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.record_whatsapp_outgoing(uuid, text, text, text, boolean, text)');

-- update_whatsapp_message_status: applies a WhatsApp status notification (sent, delivered,
-- read, failed) to the stored message.
-- Guarantees: statuses only move forward (sent < delivered < read), and failed only from sent
-- (a message the customer received or read did not fail) and is final, by one atomic UPDATE
-- guarded on the current status, so late or repeated notifications change nothing. Statuses
-- belong to messages the business sent: for an inbound message nothing changes (updated false).
-- An unknown message id is 'Message not found' (23503).
CREATE FUNCTION public.update_whatsapp_message_status(
    p_wa_message_id text, p_status text, p_at timestamptz DEFAULT NULL, p_error jsonb DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_rank constant jsonb := '{"received": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}';
    v_current text;
    v_updated boolean;
BEGIN
    IF p_wa_message_id IS NULL OR btrim(p_wa_message_id) = '' THEN
        PERFORM leadledger.invalid_parameter('p_wa_message_id', 'is required');
    END IF;
    IF p_status IS NULL OR NOT v_rank ? p_status OR p_status = 'received' THEN
        PERFORM leadledger.invalid_parameter('p_status', format(
            'must be sent, delivered, read or failed, got %s', coalesce(quote_literal(p_status), 'nothing')));
    END IF;
    UPDATE public.messages
       SET status = p_status, status_updated_at = coalesce(p_at, now()), error = coalesce(p_error, error)
     WHERE wa_message_id = p_wa_message_id
       AND direction = 'outbound'
       AND CASE WHEN p_status = 'failed' THEN status = 'sent'
                ELSE (v_rank ->> status)::integer < (v_rank ->> p_status)::integer END
    RETURNING status INTO v_current;
    v_updated := FOUND;
    IF NOT v_updated THEN
        SELECT status INTO v_current FROM public.messages WHERE wa_message_id = p_wa_message_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'Message not found' USING ERRCODE = 'foreign_key_violation',
                DETAIL = format('no message with WhatsApp id %s', p_wa_message_id);
        END IF;
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'wa_message_id', p_wa_message_id, 'status', v_current, 'updated', v_updated));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.update_whatsapp_message_status(text, text, timestamptz, jsonb)');

-- ---------------------------------------------------------------------------------------------
-- 4. soft_delete_lead, restore_lead
-- ---------------------------------------------------------------------------------------------

-- leadledger.lock_own_lead: locks a lead FOR UPDATE (lead first: the lock order), checking the
-- caller may act on it: the end user of the JWT (who may pass only his own id as p_user_id), else
-- p_user_id (leadledger.lead_scope). Someone else's lead reads as 'Lead not found' (23503), so ids
-- of other tenants cannot be probed.
CREATE FUNCTION leadledger.lock_own_lead(p_lead_id uuid, p_user_id uuid)
RETURNS public.leads
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_lead public.leads;
    v_owner uuid := leadledger.lead_scope(p_user_id);
BEGIN
    IF p_lead_id IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_lead_id', 'is required');
    END IF;
    SELECT * INTO v_lead FROM public.leads WHERE id = p_lead_id FOR UPDATE;
    IF NOT FOUND OR (v_owner IS NOT NULL AND v_lead.user_id <> v_owner) THEN
        RAISE EXCEPTION 'Lead not found' USING ERRCODE = 'foreign_key_violation',
            DETAIL = format('no lead %s for this user', p_lead_id);
    END IF;
    RETURN v_lead;
END
$$;

-- soft_delete_lead: marks a lead and its live conversations deleted, together.
-- Guarantees: the lead row is locked first, then its conversations are updated in the same
-- transaction, so no reader sees one deleted without the other; deleting a deleted lead is a
-- no-op (changed: false). p_user_id (optional) or the caller's JWT limits it to one's own leads.
CREATE FUNCTION public.soft_delete_lead(p_lead_id uuid, p_user_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_lead public.leads;
    v_at timestamptz := now();
    v_conversations integer := 0;
BEGIN
    v_lead := leadledger.lock_own_lead(p_lead_id, p_user_id);
    IF v_lead.deleted_at IS NULL THEN
        UPDATE public.leads SET deleted_at = v_at, updated_at = v_at WHERE id = p_lead_id;
        UPDATE public.conversations SET deleted_at = v_at, updated_at = v_at
         WHERE lead_id = p_lead_id AND deleted_at IS NULL;
        GET DIAGNOSTICS v_conversations = ROW_COUNT;
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'lead_id', p_lead_id, 'changed', v_lead.deleted_at IS NULL,
        'deleted_at', coalesce(v_lead.deleted_at, v_at), 'conversations', v_conversations));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.soft_delete_lead(uuid, uuid)', true);

-- restore_lead: brings back a soft-deleted lead and the conversations deleted with it.
-- Guarantees: lead locked first, conversations restored in the same transaction; if the user
-- has meanwhile got a new live lead for the same phone, the unique index refuses the restore
-- (23505, nothing changed). Restoring a live lead is a no-op (changed: false).
CREATE FUNCTION public.restore_lead(p_lead_id uuid, p_user_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_lead public.leads;
    v_conversations integer := 0;
BEGIN
    v_lead := leadledger.lock_own_lead(p_lead_id, p_user_id);
    IF v_lead.deleted_at IS NOT NULL THEN
        UPDATE public.leads SET deleted_at = NULL, updated_at = now() WHERE id = p_lead_id;
        UPDATE public.conversations SET deleted_at = NULL, updated_at = now()
         WHERE lead_id = p_lead_id AND deleted_at = v_lead.deleted_at;
        GET DIAGNOSTICS v_conversations = ROW_COUNT;
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'lead_id', p_lead_id, 'changed', v_lead.deleted_at IS NOT NULL, 'conversations', v_conversations));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.restore_lead(uuid, uuid)', true);

-- ---------------------------------------------------------------------------------------------
-- 5. Reads: list_leads, get_lead
-- ---------------------------------------------------------------------------------------------

-- list_leads: a user's live leads, newest first, with their open (or latest) conversation.
-- Keyset pagination: pass the last row's created_at and lead_id as p_before_created_at and
-- p_before_id. Filters: status, lead type, and a search on name or phone. Soft-deleted leads
-- are never listed. Served by leads_user_created_idx.
CREATE FUNCTION public.list_leads(
    p_user_id uuid,
    p_limit integer DEFAULT 50,
    p_before_created_at timestamptz DEFAULT NULL,
    p_before_id uuid DEFAULT NULL,
    p_status text DEFAULT NULL,
    p_lead_type text DEFAULT NULL,
    p_search text DEFAULT NULL
)
RETURNS TABLE (
    lead_id uuid, customer_phone text, customer_name text, lead_type text, status text, source text,
    details text, created_at timestamptz, updated_at timestamptz, conversation_id uuid,
    conversation_status text, last_message_at timestamptz
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '30s'
AS $$
BEGIN
    PERFORM leadledger.assert_tenant(p_user_id);
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 1000 THEN
        PERFORM leadledger.invalid_parameter('p_limit', 'must be between 1 and 1000');
    END IF;
    IF (p_before_created_at IS NULL) <> (p_before_id IS NULL) THEN
        PERFORM leadledger.invalid_parameter('p_before_id', 'p_before_created_at and p_before_id go together');
    END IF;
    RETURN QUERY
        SELECT l.id, l.customer_phone, l.customer_name, l.lead_type, l.status, l.source, l.details,
               l.created_at, l.updated_at, c.id, c.status, c.last_message_at
          FROM public.leads l
          LEFT JOIN LATERAL (
              SELECT cv.id, cv.status, cv.last_message_at FROM public.conversations cv
               WHERE cv.lead_id = l.id AND cv.deleted_at IS NULL
               ORDER BY (cv.status IN ('active', 'waiting')) DESC, cv.created_at DESC
               LIMIT 1) c ON true
         WHERE l.user_id = p_user_id AND l.deleted_at IS NULL
           AND (p_before_created_at IS NULL OR (l.created_at, l.id) < (p_before_created_at, p_before_id))
           AND (p_status IS NULL OR l.status = p_status)
           AND (p_lead_type IS NULL OR l.lead_type = p_lead_type)
           AND (p_search IS NULL OR l.customer_name ILIKE '%' || p_search || '%'
                -- by phone only when the search has digits (else every phone would match '%%')
                OR (p_search ~ '[0-9]'
                    AND l.customer_phone LIKE '%' || regexp_replace(p_search, '[^0-9+]', '', 'g') || '%'))
         ORDER BY l.created_at DESC, l.id DESC
         LIMIT p_limit;
END
$$;
SELECT leadledger.secure_function('public.list_leads(uuid, integer, timestamptz, uuid, text, text, text)', true);

-- get_lead: one live lead with its conversations and their latest 50 messages. Scoped as
-- soft_delete_lead (leadledger.lead_scope): another tenant's lead is 'Lead not found'.
CREATE FUNCTION public.get_lead(p_lead_id uuid, p_user_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_owner uuid;
    v_lead public.leads;
BEGIN
    v_owner := leadledger.lead_scope(p_user_id);  -- in the body: its 42501 becomes the envelope
    SELECT * INTO v_lead FROM public.leads WHERE id = p_lead_id AND deleted_at IS NULL;
    IF NOT FOUND OR (v_owner IS NOT NULL AND v_lead.user_id <> v_owner) THEN
        RAISE EXCEPTION 'Lead not found' USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'lead', to_jsonb(v_lead),
        'conversations', coalesce((
            SELECT jsonb_agg(to_jsonb(c) || jsonb_build_object('messages', coalesce((
                       SELECT jsonb_agg(to_jsonb(m) - 'payload' ORDER BY m.sent_at, m.created_at, m.id)
                         FROM (SELECT * FROM public.messages WHERE conversation_id = c.id
                                ORDER BY sent_at DESC, created_at DESC, id DESC LIMIT 50) m), '[]'::jsonb))
                   ORDER BY c.created_at)
              FROM public.conversations c WHERE c.lead_id = p_lead_id AND c.deleted_at IS NULL), '[]'::jsonb)));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.get_lead(uuid, uuid)', true);

-- ---------------------------------------------------------------------------------------------
-- 6. Users, API keys, WhatsApp numbers (service only)
-- ---------------------------------------------------------------------------------------------

-- create_app_user: a new owner of leads (23505 when the email is taken).
CREATE FUNCTION public.create_app_user(p_email text, p_name text DEFAULT NULL, p_user_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_id uuid;
BEGIN
    IF p_email IS NULL OR NOT leadledger.json_type_matches(to_jsonb(lower(btrim(p_email))), 'email') THEN
        PERFORM leadledger.invalid_parameter('p_email', 'must be an email address');
    END IF;
    INSERT INTO public.app_users (id, email, name)
    VALUES (coalesce(p_user_id, gen_random_uuid()), lower(btrim(p_email)), p_name)
    RETURNING id INTO v_id;
    RETURN leadledger.ok_envelope(jsonb_build_object('user_id', v_id, 'email', lower(btrim(p_email))));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.create_app_user(text, text, uuid)');

-- create_api_key: stores the SHA-256 (hex) of a new API key for a user; the key itself is
-- never stored.
CREATE FUNCTION public.create_api_key(p_user_id uuid, p_key_hash text, p_name text DEFAULT 'default')
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
    v_id uuid;
BEGIN
    PERFORM leadledger.assert_tenant(p_user_id);
    IF p_key_hash IS NULL OR p_key_hash !~ '^[0-9a-f]{64}$' THEN
        PERFORM leadledger.invalid_parameter('p_key_hash', 'must be a hex SHA-256 digest');
    END IF;
    INSERT INTO public.api_keys (user_id, key_hash, name) VALUES (p_user_id, p_key_hash, coalesce(p_name, 'default'))
    RETURNING id INTO v_id;
    RETURN leadledger.ok_envelope(jsonb_build_object('api_key_id', v_id, 'user_id', p_user_id));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.create_api_key(uuid, text, text)');

-- authenticate_api_key: the user id of a live (not revoked) API key hash, or no row.
CREATE FUNCTION public.authenticate_api_key(p_key_hash text)
RETURNS TABLE (user_id uuid, api_key_id uuid)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.user_id, k.id FROM public.api_keys k WHERE k.key_hash = p_key_hash AND k.revoked_at IS NULL
$$;
SELECT leadledger.secure_function('public.authenticate_api_key(text)');

-- link_whatsapp_number: says which user owns a WhatsApp Business phone number id (relinking
-- to another user is refused: 23505).
CREATE FUNCTION public.link_whatsapp_number(p_user_id uuid, p_phone_number_id text, p_display_phone text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
SET statement_timeout = '30s'
AS $$
DECLARE
    v_state text; v_message text; v_detail text; v_context text;
BEGIN
    PERFORM leadledger.assert_tenant(p_user_id);
    IF p_phone_number_id IS NULL OR p_phone_number_id !~ '^[0-9]{5,20}$' THEN
        PERFORM leadledger.invalid_parameter('p_phone_number_id', 'must be the numeric WhatsApp phone number id');
    END IF;
    INSERT INTO public.whatsapp_numbers (phone_number_id, user_id, display_phone)
    VALUES (p_phone_number_id, p_user_id, p_display_phone)
    ON CONFLICT (phone_number_id) DO UPDATE SET display_phone = coalesce(excluded.display_phone, whatsapp_numbers.display_phone)
     WHERE whatsapp_numbers.user_id = excluded.user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'WhatsApp number % belongs to another user', p_phone_number_id USING ERRCODE = 'unique_violation';
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object('phone_number_id', p_phone_number_id, 'user_id', p_user_id));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
        v_detail = PG_EXCEPTION_DETAIL, v_context = PG_EXCEPTION_CONTEXT;
    RETURN leadledger.error_envelope(v_state, v_message, v_detail, v_context);
END
$$;
SELECT leadledger.secure_function('public.link_whatsapp_number(uuid, text, text)');

-- whatsapp_number_owner: the user who owns a WhatsApp phone number id, or no row.
CREATE FUNCTION public.whatsapp_number_owner(p_phone_number_id text)
RETURNS TABLE (user_id uuid)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT w.user_id FROM public.whatsapp_numbers w WHERE w.phone_number_id = p_phone_number_id
$$;
SELECT leadledger.secure_function('public.whatsapp_number_owner(text)');

-- find_lead_by_phone: the user's live lead for a phone number (any common notation), or no row.
CREATE FUNCTION public.find_lead_by_phone(p_user_id uuid, p_phone text)
RETURNS TABLE (lead_id uuid, customer_name text)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.id, l.customer_name FROM public.leads l
     WHERE l.user_id = p_user_id AND l.deleted_at IS NULL
       AND l.customer_phone = leadledger.normalize_phone(p_phone, true)
$$;
SELECT leadledger.secure_function('public.find_lead_by_phone(uuid, text)');
