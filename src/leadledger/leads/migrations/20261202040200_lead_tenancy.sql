-- Lead tenancy (issue 10): leads, conversations, messages, WhatsApp numbers and the audit log
-- belong to exactly one organization (docs/decisions.md D45, D46).
--
-- * Every table of the domain gets organization_id, NOT NULL, referencing public.organizations
--   (ON DELETE CASCADE). Existing rows move (D46) to the organization of their user (the one
--   20261202040000_organizations gave him: his earliest membership, else the default
--   organization); conversations follow their lead, messages their conversation; an audit row
--   follows the lead or conversation it records, else (its record is gone) the user named in
--   the row it recorded, else the default organization. The lead's user stays (003 requires it).
-- * A conversation is in its lead's organization and a message in its conversation's, by
--   composite foreign keys (lead_id, organization_id) and (conversation_id, organization_id):
--   row level security compares organization_id alone, so the database, not only the
--   functions, keeps a child from claiming another organization.
-- * One live lead per organization and phone number (was: per user and phone). Members share
--   their organization's leads (D45): a customer who writes to the organization's number and a
--   member who answers him meet in one lead, whoever of the members created it. Existing data
--   satisfies it: every user had an organization of his own.
-- * whatsapp_numbers.access_token_ref: where the access token of the number is, never the token
--   itself: `env:NAME`, the environment variable NAME of the service that sends (NULL: the
--   deployment's LEADLEDGER_WHATSAPP_ACCESS_TOKEN). Sending uses the caller's organization's
--   number and its token; the webhook lands a message in the organization of the number it
--   was sent to.
-- * Indexes for the reads by organization: list_leads pages one organization's leads by
--   (organization_id, created_at DESC, id DESC); every table has an index leading with
--   organization_id for end users' PostgREST reads (row level security filters by it) and the
--   cascade from organizations.
-- * Every public function of the domain takes p_organization_id (the last argument, DEFAULT
--   NULL) and the tenancy helpers change, so their old signatures are dropped here; the current
--   state (leads/sql/) creates the new ones.
--
-- The backfill rewrites every row of the domain's tables once, under the migration's ACCESS
-- EXCLUSIVE locks, with the domain's triggers off (the audit log records changes made through
-- the functions, not this move): run it while the service and workers are stopped.

CREATE TEMPORARY TABLE leadledger_lead_user_organization ON COMMIT DROP AS
SELECT DISTINCT ON (m.user_id) m.user_id, m.organization_id
  FROM public.organization_members m
 ORDER BY m.user_id, m.created_at, m.organization_id;

ALTER TABLE public.leads DISABLE TRIGGER USER;
ALTER TABLE public.conversations DISABLE TRIGGER USER;

-- Leads and WhatsApp numbers: their user's organization.
ALTER TABLE public.leads ADD COLUMN organization_id uuid;
UPDATE public.leads l
   SET organization_id = coalesce((SELECT u.organization_id FROM leadledger_lead_user_organization u
                                    WHERE u.user_id = l.user_id),
                                  (SELECT o.id FROM public.organizations o WHERE o.is_default));
ALTER TABLE public.whatsapp_numbers
    ADD COLUMN organization_id uuid,
    ADD COLUMN access_token_ref text CHECK (access_token_ref ~ '^env:[A-Za-z_][A-Za-z0-9_]{0,127}$');
UPDATE public.whatsapp_numbers w
   SET organization_id = coalesce((SELECT u.organization_id FROM leadledger_lead_user_organization u
                                    WHERE u.user_id = w.user_id),
                                  (SELECT o.id FROM public.organizations o WHERE o.is_default));
COMMENT ON COLUMN public.whatsapp_numbers.access_token_ref IS
    'Where the Cloud API access token of this number is, never the token: env:NAME (an environment variable of the sending service); NULL: LEADLEDGER_WHATSAPP_ACCESS_TOKEN.';

-- Conversations: their lead's; messages: their conversation's.
ALTER TABLE public.conversations ADD COLUMN organization_id uuid;
UPDATE public.conversations c SET organization_id = l.organization_id FROM public.leads l WHERE l.id = c.lead_id;
ALTER TABLE public.messages ADD COLUMN organization_id uuid;
UPDATE public.messages m SET organization_id = c.organization_id
  FROM public.conversations c WHERE c.id = m.conversation_id;

-- The audit log: the record's lead or conversation, else the organization of the user the
-- recorded row names, else the default organization.
ALTER TABLE public.lead_audit_log ADD COLUMN organization_id uuid;
UPDATE public.lead_audit_log a
   SET organization_id = coalesce(
           CASE a.table_name
               WHEN 'leads' THEN (SELECT l.organization_id FROM public.leads l WHERE l.id = a.record_id)
               ELSE (SELECT c.organization_id FROM public.conversations c WHERE c.id = a.record_id) END,
           (SELECT u.organization_id FROM leadledger_lead_user_organization u
             WHERE u.user_id::text = lower(coalesce(a.new_values, a.old_values) ->> 'user_id')),
           (SELECT o.id FROM public.organizations o WHERE o.is_default));

ALTER TABLE public.leads ENABLE TRIGGER USER;
ALTER TABLE public.conversations ENABLE TRIGGER USER;

ALTER TABLE public.leads
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT leads_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE,
    -- The target of conversations' (lead_id, organization_id); serves reads by organization.
    ADD CONSTRAINT leads_organization_id_id_key UNIQUE (organization_id, id);
ALTER TABLE public.conversations
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT conversations_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE,
    ADD CONSTRAINT conversations_organization_id_id_key UNIQUE (organization_id, id),
    DROP CONSTRAINT conversations_lead_id_fkey,
    ADD CONSTRAINT conversations_lead_id_fkey
        FOREIGN KEY (lead_id, organization_id) REFERENCES public.leads (id, organization_id) ON DELETE CASCADE;
ALTER TABLE public.messages
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT messages_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE,
    DROP CONSTRAINT messages_conversation_id_fkey,
    ADD CONSTRAINT messages_conversation_id_fkey
        FOREIGN KEY (conversation_id, organization_id) REFERENCES public.conversations (id, organization_id)
        ON DELETE CASCADE;
ALTER TABLE public.whatsapp_numbers
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT whatsapp_numbers_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;
ALTER TABLE public.lead_audit_log
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT lead_audit_log_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;

-- One live lead per organization and phone: the arbiter of INSERT ... ON CONFLICT in
-- record_whatsapp_message and record_whatsapp_outgoing, so ten deliveries at once create one lead.
DROP INDEX public.leads_user_phone_live_key;
CREATE UNIQUE INDEX leads_organization_phone_live_key ON public.leads (organization_id, customer_phone)
    WHERE deleted_at IS NULL;
-- Serves list_leads: an organization's leads newest first (keyset pagination); not partial, so
-- that it serves row level security's reads (soft-deleted rows included) as well.
DROP INDEX public.leads_user_created_idx;
CREATE INDEX leads_organization_created_idx ON public.leads (organization_id, created_at DESC, id DESC);
-- Serves the ON DELETE CASCADE from app_users (the partial indexes by user it had are gone).
CREATE INDEX leads_user_idx ON public.leads (user_id);
-- Serve reads by organization and the cascade from organizations (conversations: their
-- (organization_id, id) key above).
CREATE INDEX messages_organization_idx ON public.messages (organization_id);
CREATE INDEX whatsapp_numbers_organization_idx ON public.whatsapp_numbers (organization_id, created_at);
CREATE INDEX lead_audit_log_organization_idx ON public.lead_audit_log (organization_id, id);

-- The old tenancy helpers: leadledger.org_scope (orgs/sql/00_tenancy.sql) decides now (D47).
DROP FUNCTION IF EXISTS leadledger.lead_jwt_user_id();
DROP FUNCTION IF EXISTS leadledger.lead_assert_tenant(uuid);
DROP FUNCTION IF EXISTS leadledger.lead_scope(uuid);
-- Helpers that take the organization now (lead_stored_message keeps its types, not its names).
DROP FUNCTION IF EXISTS leadledger.lead_open_conversation(uuid, uuid);
DROP FUNCTION IF EXISTS leadledger.lead_for_phone(uuid, text, text);
DROP FUNCTION IF EXISTS leadledger.lead_stored_message(uuid, text);
DROP FUNCTION IF EXISTS leadledger.lead_lock_own(uuid, uuid);
-- The public functions: p_organization_id last (and link_whatsapp_number p_access_token_ref).
DROP FUNCTION IF EXISTS public.create_lead_with_conversation(uuid, text, text, text, text, text, text);
DROP FUNCTION IF EXISTS public.create_leads_with_conversations(uuid, jsonb);
DROP FUNCTION IF EXISTS public.record_whatsapp_message(uuid, text, text, text, text, text, timestamptz, jsonb);
DROP FUNCTION IF EXISTS public.record_whatsapp_outgoing(uuid, text, text, text, boolean, text);
DROP FUNCTION IF EXISTS public.update_whatsapp_message_status(text, text, timestamptz, jsonb);
DROP FUNCTION IF EXISTS public.soft_delete_lead(uuid, uuid);
DROP FUNCTION IF EXISTS public.restore_lead(uuid, uuid);
DROP FUNCTION IF EXISTS public.get_lead(uuid, uuid);
DROP FUNCTION IF EXISTS public.list_leads(uuid, integer, timestamptz, uuid, text, text, text);
DROP FUNCTION IF EXISTS public.link_whatsapp_number(uuid, text, text);
DROP FUNCTION IF EXISTS public.whatsapp_number_owner(text);
DROP FUNCTION IF EXISTS public.find_lead_by_phone(uuid, text);
