-- ETL tenancy (issue 10): every ETL row belongs to exactly one organization (docs/decisions.md
-- D45-D49).
--
-- * etl_api.org is 1:1 with public.organizations (same id; 20261202040000_organizations added
--   the foreign key). Every organization gets its etl_api.org row: those that exist now here,
--   new ones from the trigger etl_api.org_follows_organization (current state,
--   etl/sql/07_organizations.sql). Whoever writes ETL rows needs only the organization, so the
--   service no longer inserts into etl_api.org itself.
-- * public.factor belongs to an organization: a factor without one (004 allowed NULL) moves to
--   the deployment's default organization; org_id becomes required and references
--   public.organizations. Its index covers every row (row level security filters live and
--   deleted factors alike), ordered by creation for listing.
-- * etl_api.state_history carries the org_id of its row, as every child row does (D45): copied
--   from the row by transition_state and mark_timedout. History of rows that no longer exist
--   (the history has no foreign key to them) goes to the default organization.
-- * Row level security on the etl_api tables that hold an organization's rows, and on the log:
--   closed to PUBLIC and the API roles, read by leadledger_service by its own policy
--   (leadledger.secure_table); the policies per organization, and the service's INSERT policy,
--   are current state (etl/sql/06_row_level_security.sql). etl_api is not exposed by PostgREST:
--   this is defence in depth. Reference tables (legacy_status_map, operator_phrase,
--   factor_type_template) hold no organization's data and stay as they are.
-- * transition_state, mark_timedout, get_state_counts and get_stuck_rows take p_organization_id
--   (the last argument, DEFAULT NULL): their old signatures are dropped here, the current state
--   (etl/sql/) creates the new ones.
--
-- The backfill of state_history rewrites that table once under this migration's locks: run it
-- when the workers are stopped.

INSERT INTO etl_api.org (id, name, created_at)
SELECT o.id, o.name, o.created_at FROM public.organizations o
ON CONFLICT (id) DO NOTHING;
REVOKE INSERT ON etl_api.org FROM leadledger_service;

UPDATE public.factor SET org_id = (SELECT o.id FROM public.organizations o WHERE o.is_default)
 WHERE org_id IS NULL;
ALTER TABLE public.factor
    DROP CONSTRAINT factor_org_id_fkey,
    ADD CONSTRAINT factor_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organizations (id) ON DELETE CASCADE,
    ALTER COLUMN org_id SET NOT NULL;
DROP INDEX public.factor_org_idx;
-- Serves an organization's factors (row level security, listing) and the cascade from organizations.
CREATE INDEX factor_org_idx ON public.factor (org_id, created_at);

ALTER TABLE etl_api.state_history ADD COLUMN org_id uuid;
UPDATE etl_api.state_history h SET org_id = r.org_id
  FROM (SELECT 'activity_request' AS table_name, id, org_id FROM etl_api.activity_request
        UNION ALL SELECT 'run_queue', id, org_id FROM etl_api.run_queue
        UNION ALL SELECT 'run_request', id, org_id FROM etl_api.run_request
        UNION ALL SELECT 'workflow_request', id, org_id FROM etl_api.workflow_request) r
 WHERE r.table_name = h.table_name AND r.id = h.row_id;
UPDATE etl_api.state_history SET org_id = (SELECT o.id FROM public.organizations o WHERE o.is_default)
 WHERE org_id IS NULL;
ALTER TABLE etl_api.state_history
    ALTER COLUMN org_id SET NOT NULL,
    ADD CONSTRAINT state_history_org_id_fkey FOREIGN KEY (org_id) REFERENCES etl_api.org (id) ON DELETE CASCADE;
-- Serves an organization's history (row level security) and the cascade from etl_api.org.
CREATE INDEX state_history_org_idx ON etl_api.state_history (org_id, at);

SELECT leadledger.secure_table(t)
  FROM unnest(ARRAY['etl_api.org', 'etl_api.workflow_request', 'etl_api.activity_request', 'etl_api.run_queue',
                    'etl_api.run_request', 'etl_api.state_history', 'etl_api.etl_log']::regclass[]) t;

DROP FUNCTION IF EXISTS etl_api.transition_state(text, uuid, text, text, text);
DROP FUNCTION IF EXISTS etl_api.mark_timedout(interval);
DROP FUNCTION IF EXISTS etl_api.get_state_counts();
DROP FUNCTION IF EXISTS etl_api.get_stuck_rows(integer);
