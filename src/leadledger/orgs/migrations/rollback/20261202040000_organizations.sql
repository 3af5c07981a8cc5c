-- Rollback of 20261202040000_organizations (its functions are current state, removed by
-- `db down` before this runs). The grant of leadledger_service to the migrating role is kept.
ALTER TABLE etl_api.org DROP CONSTRAINT org_organization_fkey;
DROP INDEX public.api_keys_organization_idx;
ALTER TABLE public.api_keys DROP COLUMN last_used_at, DROP COLUMN organization_id;
DROP SCHEMA leadledger_rls;
DROP TABLE public.organization_members;
DROP TABLE public.organizations;
