-- Leads and conversations, current state: the audit trigger and the deferred checks that no
-- lead exists without its conversation.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

-- leadledger.lead_audit_actor: who is acting, for the audit log: the JWT subject PostgREST set
-- (request.jwt.claims), else what the caller set in leadledger.actor, else the user the
-- current call acts for (leadledger.acting_user, set by leadledger.org_scope for an end user and
-- by leadledger.lead_scope from the p_user_id the service passes: the HTTP API's authenticated
-- user), else the database role.
CREATE OR REPLACE FUNCTION leadledger.lead_audit_actor()
RETURNS text
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub',
        nullif(current_setting('leadledger.actor', true), ''),
        nullif(current_setting('leadledger.acting_user', true), ''),
        session_user::text)
$$;

-- leadledger.lead_audit_row_change: the audit trigger. Guarantees: runs in the same transaction as
-- the change it records (AFTER ROW), so the log has a row for every change that committed and
-- none for one rolled back. The row belongs to the organization of the lead or conversation it
-- records (row level security shows it to that organization's members); a delete cascaded from
-- deleting the organization itself is not logged, as the organization's log goes with it.
CREATE OR REPLACE FUNCTION leadledger.lead_audit_row_change()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM public.organizations WHERE id = OLD.organization_id) THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.lead_audit_log (organization_id, table_name, record_id, action, actor, old_values, new_values)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.organization_id ELSE NEW.organization_id END,
            TG_TABLE_NAME, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, TG_OP,
            leadledger.lead_audit_actor(),
            CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
            CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER leads_audit AFTER INSERT OR UPDATE OR DELETE ON public.leads
    FOR EACH ROW EXECUTE FUNCTION leadledger.lead_audit_row_change();
CREATE OR REPLACE TRIGGER conversations_audit AFTER INSERT OR UPDATE OR DELETE ON public.conversations
    FOR EACH ROW EXECUTE FUNCTION leadledger.lead_audit_row_change();

-- leadledger.lead_has_conversation: the deferred check that no lead exists without a
-- conversation at commit, whoever inserted it (a stored function, a migration, psql).
CREATE OR REPLACE FUNCTION leadledger.lead_has_conversation()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM public.leads WHERE id = NEW.id)
       AND NOT EXISTS (SELECT 1 FROM public.conversations WHERE lead_id = NEW.id) THEN
        PERFORM leadledger.raise_error('23000', format('lead %s has no conversation', NEW.id),
                                       p_hint => 'create leads with create_lead_with_conversation');
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS leads_need_conversation ON public.leads;
CREATE CONSTRAINT TRIGGER leads_need_conversation AFTER INSERT ON public.leads
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION leadledger.lead_has_conversation();

-- leadledger.lead_keeps_conversation: the same check from the other side: deleting (or moving)
-- the last conversation of a lead that still exists is refused at commit.
CREATE OR REPLACE FUNCTION leadledger.lead_keeps_conversation()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM public.leads WHERE id = OLD.lead_id)
       AND NOT EXISTS (SELECT 1 FROM public.conversations WHERE lead_id = OLD.lead_id) THEN
        PERFORM leadledger.raise_error('23000', format('lead %s would be left without a conversation', OLD.lead_id));
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS conversations_keep_lead_whole ON public.conversations;
CREATE CONSTRAINT TRIGGER conversations_keep_lead_whole AFTER DELETE OR UPDATE OF lead_id ON public.conversations
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION leadledger.lead_keeps_conversation();
