-- Leads and conversations, current state: 3. WhatsApp: record_whatsapp_message, record_whatsapp_outgoing, update_whatsapp_message_status.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- 3. WhatsApp: record_whatsapp_message, record_whatsapp_outgoing, update_whatsapp_message_status
-- ---------------------------------------------------------------------------------------------

-- leadledger.lead_open_conversation: the lead's open conversation, created (in the lead's
-- organization, for the lead's user) when it has none. The caller holds the lead's row lock
-- (lead_for_phone), so the lead cannot be soft-deleted meanwhile.
-- Guarantees: at most one open conversation per lead (conversations_lead_open_key); of racing
-- callers one inserts and the others, after waiting for it, find that one; if the open one was
-- closed between the insert and the look-up, it tries again: it never returns no conversation.
CREATE OR REPLACE FUNCTION leadledger.lead_open_conversation(
    p_lead_id uuid, p_organization_id uuid, p_user_id uuid, OUT conversation_id uuid, OUT created boolean
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    LOOP
        INSERT INTO public.conversations (organization_id, lead_id, user_id, channel, status)
        VALUES (p_organization_id, p_lead_id, p_user_id, 'whatsapp', 'active')
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

-- leadledger.lead_for_phone: the organization's live lead for a phone (whichever member's it is),
-- created (with source whatsapp, as the lead of p_user_id) when there is none, and row-locked
-- (FOR NO KEY UPDATE; lead first: the lock order) until the caller's transaction ends.
-- Guarantees: one live lead per organization and phone (leads_organization_phone_live_key);
-- racing callers: one inserts, the others wait for it and find it. The lock makes a concurrent
-- soft_delete_lead wait for the caller, so a message never lands in, or opens, a conversation
-- of a lead deleted meanwhile; a lead deleted between the insert attempt and the lock is no
-- longer live (the locking read rechecks deleted_at), and the next round creates a new lead.
CREATE OR REPLACE FUNCTION leadledger.lead_for_phone(
    p_organization_id uuid, p_user_id uuid, p_phone text, p_customer_name text,
    OUT lead_id uuid, OUT user_id uuid, OUT created boolean
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    LOOP
        INSERT INTO public.leads (organization_id, user_id, customer_phone, customer_name, lead_type, source)
        VALUES (p_organization_id, p_user_id, p_phone, nullif(btrim(p_customer_name), ''), 'inquiry', 'whatsapp')
        ON CONFLICT (organization_id, customer_phone) WHERE deleted_at IS NULL DO NOTHING
        RETURNING leads.id, leads.user_id INTO lead_id, user_id;
        created := lead_id IS NOT NULL;
        EXIT WHEN created;
        SELECT l.id, l.user_id INTO lead_id, user_id FROM public.leads l
         WHERE l.organization_id = p_organization_id AND l.customer_phone = p_phone AND l.deleted_at IS NULL
           FOR NO KEY UPDATE;
        EXIT WHEN FOUND;
    END LOOP;
    IF NOT created AND nullif(btrim(p_customer_name), '') IS NOT NULL THEN
        UPDATE public.leads SET customer_name = btrim(p_customer_name), updated_at = now()
         WHERE id = lead_id AND customer_name IS NULL;
    END IF;
END
$$;

-- leadledger.lead_stored_message: the duplicate answer for a WhatsApp message id that is already
-- stored in this organization, or NULL when the id is new. Shared by record_whatsapp_message and
-- record_whatsapp_outgoing, so a repeated delivery or a retried record answers the same way.
-- Guarantees: a message id stored in another organization is 'Duplicate record detected'
-- (23505) and names none of its rows, so a WhatsApp id never reveals another tenant's lead.
CREATE OR REPLACE FUNCTION leadledger.lead_stored_message(p_organization_id uuid, p_wa_message_id text)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_existing record;
BEGIN
    SELECT m.id, m.conversation_id, c.lead_id, m.organization_id INTO v_existing
      FROM public.messages m JOIN public.conversations c ON c.id = m.conversation_id
     WHERE m.wa_message_id = p_wa_message_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_existing.organization_id IS DISTINCT FROM p_organization_id THEN
        PERFORM leadledger.raise_error('23505', 'Duplicate record detected',
                                       'the message id belongs to another organization');
    END IF;
    RETURN leadledger.ok_envelope(jsonb_build_object(
        'duplicate', true, 'message_id', v_existing.id, 'wa_message_id', p_wa_message_id,
        'lead_id', v_existing.lead_id, 'conversation_id', v_existing.conversation_id, 'lead_created', false));
END
$$;

-- record_whatsapp_message: stores one incoming WhatsApp message, once, in the organization of
-- the business number it was sent to (the webhook passes that number's organization and user;
-- without p_organization_id, the user's one organization). A new number's lead is p_user_id's.
-- Guarantees: the caller is checked first (leadledger.lead_organization; service only, and an
-- end user granted it by mistake still acts only in his own organization); idempotent by
-- p_wa_message_id (unique messages.wa_message_id, INSERT ... ON CONFLICT DO NOTHING): the
-- same message delivered twice, or ten times at once, is stored once and later deliveries
-- answer duplicate: true with the stored ids. For a number with no live lead in the
-- organization the lead, its conversation and the message are created in this one
-- transaction; for a known number the message goes to the lead's open conversation (opened if
-- all are closed). Locks: lead -> conversation -> message.
CREATE OR REPLACE FUNCTION public.record_whatsapp_message(
    p_user_id uuid,
    p_wa_message_id text,
    p_from_phone text,
    p_body text,
    p_customer_name text DEFAULT NULL,
    p_message_type text DEFAULT 'text',
    p_sent_at timestamptz DEFAULT NULL,
    p_payload jsonb DEFAULT NULL,
    p_organization_id uuid DEFAULT NULL
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
    v_phone text := leadledger.lead_normalize_phone(p_from_phone, true);
    v_organization uuid;
    v_duplicate jsonb;
    v_lead record;
    v_conversation record;
    v_message_id uuid;
BEGIN
    v_organization := leadledger.lead_organization(p_organization_id, p_user_id);
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

    v_duplicate := leadledger.lead_stored_message(v_organization, p_wa_message_id);
    IF v_duplicate IS NOT NULL THEN
        RETURN v_duplicate;
    END IF;

    SELECT * INTO v_lead FROM leadledger.lead_for_phone(v_organization, p_user_id, v_phone, p_customer_name);
    SELECT * INTO v_conversation
      FROM leadledger.lead_open_conversation(v_lead.lead_id, v_organization, v_lead.user_id);

    INSERT INTO public.messages (organization_id, conversation_id, direction, message_type, body, wa_message_id, status,
                                 payload, sent_at)
    VALUES (v_organization, v_conversation.conversation_id, 'inbound', p_message_type, p_body, p_wa_message_id, 'received',
            p_payload, coalesce(p_sent_at, now()))
    ON CONFLICT (wa_message_id) DO NOTHING
    RETURNING id INTO v_message_id;
    IF v_message_id IS NULL THEN
        -- A concurrent delivery of the same message committed first: report it as a duplicate.
        RETURN leadledger.lead_stored_message(v_organization, p_wa_message_id);
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
    'public.record_whatsapp_message(uuid, text, text, text, text, text, timestamptz, jsonb, uuid)');

-- record_whatsapp_outgoing: records a message the service has just sent through the WhatsApp
-- Cloud API (it is sent first, so a failed send writes nothing) for p_user_id, in the
-- organization's live lead for the number (whichever member's it is). With p_create_lead the
-- lead (p_user_id's) and its conversation are created with it when the number has no live lead
-- in the organization (same guarantees as record_whatsapp_message, the lead locked first);
-- without it an unknown number is 'No lead for this number' (23503).
-- Guarantees: the caller is checked first (leadledger.lead_organization; service only);
-- idempotent by p_wa_message_id like record_whatsapp_message (unique
-- messages.wa_message_id, ON CONFLICT DO NOTHING): a retried record answers duplicate: true
-- with the stored ids and writes nothing; lead, conversation and message together or not at all.
CREATE OR REPLACE FUNCTION public.record_whatsapp_outgoing(
    p_user_id uuid,
    p_to_phone text,
    p_body text,
    p_wa_message_id text,
    p_create_lead boolean DEFAULT false,
    p_customer_name text DEFAULT NULL,
    p_organization_id uuid DEFAULT NULL
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
    v_phone text := leadledger.lead_normalize_phone(p_to_phone, true);
    v_organization uuid;
    v_duplicate jsonb;
    v_lead record;
    v_conversation record;
    v_message_id uuid;
BEGIN
    v_organization := leadledger.lead_organization(p_organization_id, p_user_id);
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

    v_duplicate := leadledger.lead_stored_message(v_organization, p_wa_message_id);
    IF v_duplicate IS NOT NULL THEN
        RETURN v_duplicate;
    END IF;

    IF p_create_lead THEN
        SELECT * INTO v_lead FROM leadledger.lead_for_phone(v_organization, p_user_id, v_phone, p_customer_name);
    ELSE
        SELECT l.id AS lead_id, l.user_id, false AS created INTO v_lead FROM public.leads l
         WHERE l.organization_id = v_organization AND l.customer_phone = v_phone AND l.deleted_at IS NULL
           FOR NO KEY UPDATE;  -- as lead_for_phone: a concurrent soft delete waits for this call
        IF NOT FOUND THEN
            PERFORM leadledger.raise_error('23503', 'No lead for this number',
                                           format('organization %s has no live lead for %s', v_organization, v_phone));
        END IF;
    END IF;
    SELECT * INTO v_conversation
      FROM leadledger.lead_open_conversation(v_lead.lead_id, v_organization, v_lead.user_id);

    INSERT INTO public.messages (organization_id, conversation_id, direction, message_type, body, wa_message_id, status)
    VALUES (v_organization, v_conversation.conversation_id, 'outbound', 'text', p_body, p_wa_message_id, 'sent')
    ON CONFLICT (wa_message_id) DO NOTHING
    RETURNING id INTO v_message_id;
    IF v_message_id IS NULL THEN
        -- A concurrent record of the same message committed first (it held the lead's lock).
        RETURN leadledger.lead_stored_message(v_organization, p_wa_message_id);
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
SELECT leadledger.secure_function('public.record_whatsapp_outgoing(uuid, text, text, text, boolean, text, uuid)');

-- update_whatsapp_message_status: applies a WhatsApp status notification (sent, delivered,
-- read, failed) to the stored message.
-- Guarantees: statuses only move forward (sent < delivered < read), and failed only from sent
-- (a message the customer received or read did not fail) and is final, by one atomic UPDATE
-- guarded on the current status, so late or repeated notifications change nothing. Statuses
-- belong to messages the business sent: for an inbound message nothing changes (updated false).
-- The webhook passes the organization of the number the notification came for: a message of
-- another organization, like an unknown id, is 'Message not found' (23503) and unchanged.
-- Service only (leadledger.org_scope confines a caller granted it by mistake).
CREATE OR REPLACE FUNCTION public.update_whatsapp_message_status(
    p_wa_message_id text, p_status text, p_at timestamptz DEFAULT NULL, p_error jsonb DEFAULT NULL,
    p_organization_id uuid DEFAULT NULL
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
    v_organization uuid;
BEGIN
    v_organization := leadledger.org_scope(p_organization_id);
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
       AND (v_organization IS NULL OR organization_id = v_organization)
       AND direction = 'outbound'
       AND CASE WHEN p_status = 'failed' THEN status = 'sent'
                ELSE (v_rank ->> status)::integer < (v_rank ->> p_status)::integer END
    RETURNING status INTO v_current;
    v_updated := FOUND;
    IF NOT v_updated THEN
        SELECT status INTO v_current FROM public.messages
         WHERE wa_message_id = p_wa_message_id AND (v_organization IS NULL OR organization_id = v_organization);
        IF NOT FOUND THEN
            PERFORM leadledger.raise_error('23503', 'Message not found',
                                           format('no message with WhatsApp id %s', p_wa_message_id));
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
SELECT leadledger.secure_function('public.update_whatsapp_message_status(text, text, timestamptz, jsonb, uuid)');
