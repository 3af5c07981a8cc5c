-- Leads and conversations, part 1: owners, leads, conversations, messages, WhatsApp numbers,
-- API keys and the audit log. A lead and its conversation are created together: a deferred
-- constraint trigger refuses, at commit, any lead left without a conversation, and every
-- conversation references its lead (NOT NULL, ON DELETE CASCADE), so neither can be orphaned.
--
-- Functions, views and triggers that this migration created when it landed are current state
-- now (leads/sql/07_audit_and_integrity.sql, docs/sql-conventions.md): removed from here, so each has one body.
-- The text databases applied is in git history; its checksum stays valid for them:
-- leadledger:replaces sha256:e567da1c9c07ba0a88823976391f39f3471b26b9c3ced9526a58a3c20e3b60e5 (git 20c4d12:src/leadledger/leads/migrations/20261123020000_lead_tables.sql)

-- The owner a lead belongs to (a business user of leadledger). On Supabase, id is auth.users.id.
CREATE TABLE public.app_users (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email      text UNIQUE CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$'),
    name       text,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.app_users IS 'Owners of leads: the business users of leadledger.';

-- API keys: only a SHA-256 of the key is stored. Serves authenticate_api_key by its unique hash.
CREATE TABLE public.api_keys (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES public.app_users (id) ON DELETE CASCADE,
    key_hash   text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    name       text NOT NULL DEFAULT 'default',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX api_keys_user_idx ON public.api_keys (user_id);

-- Which WhatsApp Business phone number (Meta's phone_number_id) belongs to which user: the
-- webhook finds the owner of an incoming message by it.
CREATE TABLE public.whatsapp_numbers (
    phone_number_id text PRIMARY KEY CHECK (phone_number_id ~ '^[0-9]{5,20}$'),
    user_id         uuid NOT NULL REFERENCES public.app_users (id) ON DELETE CASCADE,
    display_phone   text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX whatsapp_numbers_user_idx ON public.whatsapp_numbers (user_id);

CREATE TABLE public.leads (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL REFERENCES public.app_users (id) ON DELETE CASCADE,
    customer_phone text NOT NULL CHECK (customer_phone ~ '^\+[1-9][0-9]{6,14}$'),
    customer_name  text CHECK (length(customer_name) <= 200),
    lead_type      text NOT NULL
                   CHECK (lead_type IN ('inquiry', 'quote', 'booking', 'order', 'support', 'complaint', 'other')),
    status         text NOT NULL DEFAULT 'new'
                   CHECK (status IN ('new', 'contacted', 'qualified', 'converted', 'lost')),
    source         text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'whatsapp', 'import', 'form')),
    details        text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
COMMENT ON TABLE public.leads IS 'Customers who reached a user; soft-deleted with deleted_at.';
-- One live lead per user and phone number: the arbiter of record_whatsapp_message's
-- INSERT ... ON CONFLICT, so ten deliveries at once create one lead.
CREATE UNIQUE INDEX leads_user_phone_live_key ON public.leads (user_id, customer_phone) WHERE deleted_at IS NULL;
-- Serves list_leads: a user's live leads newest first (keyset pagination).
CREATE INDEX leads_user_created_idx ON public.leads (user_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE public.conversations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id         uuid NOT NULL REFERENCES public.leads (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES public.app_users (id) ON DELETE CASCADE,
    channel         text NOT NULL DEFAULT 'whatsapp' CHECK (channel IN ('whatsapp', 'web', 'phone', 'email')),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'waiting', 'closed', 'archived')),
    last_message_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
COMMENT ON TABLE public.conversations IS 'Conversations with a lead; every one belongs to its lead.';
-- At most one open (active or waiting) live conversation per lead: where new messages go.
CREATE UNIQUE INDEX conversations_lead_open_key ON public.conversations (lead_id)
    WHERE status IN ('active', 'waiting') AND deleted_at IS NULL;
-- Serves the cascade from leads and "conversations of a lead".
CREATE INDEX conversations_lead_idx ON public.conversations (lead_id, created_at);
CREATE INDEX conversations_user_idx ON public.conversations (user_id);

CREATE TABLE public.messages (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id   uuid NOT NULL REFERENCES public.conversations (id) ON DELETE CASCADE,
    direction         text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    message_type      text NOT NULL DEFAULT 'text',
    body              text,
    wa_message_id     text UNIQUE CHECK (length(wa_message_id) BETWEEN 1 AND 256),
    status            text NOT NULL CHECK (status IN ('received', 'sent', 'delivered', 'read', 'failed')),
    status_updated_at timestamptz NOT NULL DEFAULT now(),
    error             jsonb,
    payload           jsonb,
    sent_at           timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.messages IS 'Messages of a conversation; a WhatsApp message is stored once (wa_message_id).';
-- Serves a conversation's messages in order and the cascade.
CREATE INDEX messages_conversation_idx ON public.messages (conversation_id, sent_at, id);

-- The audit log, written by triggers on leads and conversations (who, when, old and new values).
CREATE TABLE public.lead_audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name text NOT NULL CHECK (table_name IN ('leads', 'conversations')),
    record_id  uuid NOT NULL,
    action     text NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    actor      text NOT NULL,
    old_values jsonb,
    new_values jsonb,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE public.lead_audit_log IS 'Every insert, update and delete of a lead or conversation.';
-- Serves "the history of one lead or conversation".
CREATE INDEX lead_audit_log_record_idx ON public.lead_audit_log (record_id, id);

-- Written through the stored functions only (leadledger.secure_table: no access for PUBLIC or
-- the API roles, row level security on); leadledger_service reads all but the API key hashes.
SELECT leadledger.secure_table(t)
  FROM unnest(ARRAY['public.app_users', 'public.whatsapp_numbers', 'public.leads', 'public.conversations',
                    'public.messages', 'public.lead_audit_log']::regclass[]) t;
SELECT leadledger.secure_table('public.api_keys', p_service_reads => false);
