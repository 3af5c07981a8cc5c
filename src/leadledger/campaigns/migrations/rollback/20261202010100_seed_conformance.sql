-- Rollback of 20261202010100_seed_conformance (the functions are current state, removed by
-- `db down` before this runs).
ALTER TABLE public.gmaps_campaign_coverage DROP COLUMN failed_at, DROP COLUMN error;
ALTER TABLE public.gmaps_campaigns DROP COLUMN created_by_email;
ALTER TABLE public.gmaps_businesses DROP COLUMN linkedin_enrichment_attempts, DROP COLUMN facebook_enrichment_attempts;
