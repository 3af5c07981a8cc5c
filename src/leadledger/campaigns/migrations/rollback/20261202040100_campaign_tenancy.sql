-- Rollback of 20261202040100_campaign_tenancy (the functions and the row level security
-- policies are current state, removed by `db down` before this runs). Campaigns keep the
-- organization_id they were given, as a plain column again; the organizations this migration
-- created stay (20261202040000_organizations' rollback drops them all).
DROP INDEX public.gmaps_enrichment_leases_organization_idx;
DROP INDEX public.gmaps_campaign_status_history_organization_idx;
DROP INDEX public.gmaps_api_costs_organization_idx;
DROP INDEX public.gmaps_email_verifications_organization_idx;
DROP INDEX public.gmaps_linkedin_enrichments_organization_idx;
DROP INDEX public.gmaps_facebook_enrichments_organization_idx;
DROP INDEX public.gmaps_businesses_organization_idx;
DROP INDEX public.gmaps_campaign_coverage_organization_idx;
ALTER TABLE public.gmaps_enrichment_leases DROP COLUMN organization_id;
ALTER TABLE public.gmaps_campaign_status_history DROP COLUMN organization_id;
ALTER TABLE public.gmaps_api_costs DROP COLUMN organization_id;
ALTER TABLE public.gmaps_email_verifications DROP COLUMN organization_id;
ALTER TABLE public.gmaps_linkedin_enrichments DROP COLUMN organization_id;
ALTER TABLE public.gmaps_facebook_enrichments DROP COLUMN organization_id;
ALTER TABLE public.gmaps_businesses DROP COLUMN organization_id;
ALTER TABLE public.gmaps_campaign_coverage DROP COLUMN organization_id;

DROP INDEX public.gmaps_campaigns_organization_idx;
CREATE INDEX gmaps_campaigns_org_idx ON public.gmaps_campaigns (organization_id, created_at DESC)
    WHERE organization_id IS NOT NULL;
ALTER TABLE public.gmaps_campaigns
    DROP CONSTRAINT gmaps_campaigns_organization_id_fkey,
    ALTER COLUMN organization_id DROP NOT NULL;
