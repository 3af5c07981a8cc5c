-- Rollback of 20261202040200_lead_tenancy (the functions, triggers and row level security
-- policies are current state, removed by `db down` before this runs). The rows lose their
-- organization; the uniqueness goes back to one live lead per user and phone, which fails (and
-- rolls this back) if a user has live leads for one phone in two organizations: soft-delete one.
DROP INDEX public.lead_audit_log_organization_idx;
DROP INDEX public.whatsapp_numbers_organization_idx;
DROP INDEX public.messages_organization_idx;
DROP INDEX public.leads_user_idx;
DROP INDEX public.leads_organization_created_idx;
DROP INDEX public.leads_organization_phone_live_key;

ALTER TABLE public.messages
    DROP CONSTRAINT messages_conversation_id_fkey,
    ADD CONSTRAINT messages_conversation_id_fkey
        FOREIGN KEY (conversation_id) REFERENCES public.conversations (id) ON DELETE CASCADE,
    DROP COLUMN organization_id;
ALTER TABLE public.conversations
    DROP CONSTRAINT conversations_lead_id_fkey,
    ADD CONSTRAINT conversations_lead_id_fkey
        FOREIGN KEY (lead_id) REFERENCES public.leads (id) ON DELETE CASCADE,
    DROP COLUMN organization_id;
ALTER TABLE public.leads DROP COLUMN organization_id;
ALTER TABLE public.lead_audit_log DROP COLUMN organization_id;
ALTER TABLE public.whatsapp_numbers DROP COLUMN organization_id, DROP COLUMN access_token_ref;

CREATE UNIQUE INDEX leads_user_phone_live_key ON public.leads (user_id, customer_phone) WHERE deleted_at IS NULL;
CREATE INDEX leads_user_created_idx ON public.leads (user_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
