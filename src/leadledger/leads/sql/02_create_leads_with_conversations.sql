-- Leads and conversations, current state: 2. create_leads_with_conversations (bulk import).
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).
-- Lock order: lead -> conversation -> message.

-- ---------------------------------------------------------------------------------------------
-- 2. create_leads_with_conversations (bulk import)
-- ---------------------------------------------------------------------------------------------
-- create_leads_with_conversations: imports many leads of p_user_id, each with its conversation,
-- into one organization: all or nothing.
-- Guarantees: the caller is checked first, as create_lead_with_conversation checks it
-- (leadledger.lead_organization); every item is checked next; if any is bad (a malformed field, a
-- phone repeated in the batch or already a live lead of the organization) nothing is written
-- and the envelope lists every bad item as {index, field, reason} in "errors". The inserts are
-- set-based and in one transaction; a concurrent insert of the same phone makes the whole call
-- fail (23505). Leads are inserted in phone order, so concurrent imports of overlapping phones
-- wait for each other in one order and cannot deadlock.
CREATE OR REPLACE FUNCTION public.create_leads_with_conversations(
    p_user_id uuid, p_leads jsonb, p_organization_id uuid DEFAULT NULL
)
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
    v_organization uuid;
BEGIN
    v_organization := leadledger.lead_organization(p_organization_id, p_user_id);
    PERFORM leadledger.require_array(p_leads, 'p_leads', 5000);
    IF jsonb_array_length(p_leads) = 0 THEN
        PERFORM leadledger.invalid_parameter('p_leads', 'must contain at least one lead');
    END IF;

    WITH items AS (
        SELECT (i.o - 1)::integer AS idx, i.e,
               CASE WHEN jsonb_typeof(i.e) = 'object' THEN leadledger.lead_normalize_phone(i.e ->> 'customer_phone') END AS phone
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
                                              coalesce(it.e ->> 'conversation_status', 'active'),
                                              it.e ->> 'details'),
                CASE WHEN count(*) OVER (PARTITION BY it.phone) > 1
                     THEN 'customer_phone: ' || it.phone || ' appears more than once in this import' END,
                CASE WHEN EXISTS (SELECT 1 FROM public.leads l
                                   WHERE l.organization_id = v_organization AND l.customer_phone = it.phone
                                     AND l.deleted_at IS NULL)
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
        SELECT (i.o - 1)::integer AS idx, i.e, leadledger.lead_normalize_phone(i.e ->> 'customer_phone') AS phone
          FROM jsonb_array_elements(p_leads) WITH ORDINALITY AS i(e, o)
    ), new_leads AS (
        INSERT INTO public.leads (organization_id, user_id, customer_phone, customer_name, lead_type, status, source, details)
        SELECT v_organization, p_user_id, it.phone, nullif(btrim(it.e ->> 'customer_name'), ''),
               coalesce(it.e ->> 'lead_type', it.e ->> 'type'), coalesce(it.e ->> 'lead_status', 'new'),
               'import', it.e ->> 'details'
          FROM items it ORDER BY it.phone
        RETURNING id, customer_phone
    ), new_conversations AS (
        INSERT INTO public.conversations (organization_id, lead_id, user_id, status)
        SELECT v_organization, nl.id, p_user_id, coalesce(it.e ->> 'conversation_status', 'active')
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
SELECT leadledger.secure_function('public.create_leads_with_conversations(uuid, jsonb, uuid)', true);
