-- Campaign tenancy (issue 10): every campaign row, and every row under it, belongs to exactly one
-- organization (docs/decisions.md D45, D46).
--
-- * gmaps_campaigns.organization_id becomes required and references public.organizations. An
--   existing campaign moves (D46) to the organization of its created_by user (the one
--   20261202040000_organizations gave him: his earliest membership), else to the organization
--   its organization_id names (created, as 'Organization <id>', when there is none), else to the
--   deployment's default organization.
-- * Every child table gets organization_id too, copied from its campaign (leases: from their
--   business), so that row level security and the functions' checks are one indexed comparison
--   per table, not a join per row. The functions set it from the parent they locked or checked.
-- * Indexes: list_campaigns of one organization pages by (organization_id, created_at DESC,
--   id DESC); each child table's organization_id is indexed for the ON DELETE CASCADE from
--   organizations and for end users' PostgREST reads (row level security filters by it).
-- * Every public function of the domain takes p_organization_id (the last argument, DEFAULT
--   NULL), so their old signatures are dropped here; the current state (campaigns/sql/)
--   creates the new ones. Three helpers change their arguments too.
--
-- The backfill rewrites every row of the domain's tables once (a new column with a per-row value)
-- under the migration's ACCESS EXCLUSIVE locks: run it when the workers are stopped.

CREATE TEMPORARY TABLE leadledger_campaign_organization ON COMMIT DROP AS
WITH creator AS (
    SELECT DISTINCT ON (m.user_id) m.user_id, m.organization_id
      FROM public.organization_members m
     ORDER BY m.user_id, m.created_at, m.organization_id
)
SELECT c.id AS campaign_id,
       coalesce(cr.organization_id, c.organization_id,
                (SELECT o.id FROM public.organizations o WHERE o.is_default)) AS organization_id
  FROM public.gmaps_campaigns c
  LEFT JOIN creator cr ON cr.user_id = c.created_by;

INSERT INTO public.organizations (id, name)
SELECT DISTINCT t.organization_id, 'Organization ' || t.organization_id::text
  FROM leadledger_campaign_organization t
 WHERE t.organization_id IS NOT NULL
ON CONFLICT (id) DO NOTHING;

UPDATE public.gmaps_campaigns c
   SET organization_id = t.organization_id
  FROM leadledger_campaign_organization t
 WHERE t.campaign_id = c.id
   AND c.organization_id IS DISTINCT FROM t.organization_id;

ALTER TABLE public.gmaps_campaigns
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT gmaps_campaigns_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;
DROP INDEX public.gmaps_campaigns_org_idx;
-- Serves list_campaigns of one organization (keyset pagination, newest first) and the cascade
-- from organizations.
CREATE INDEX gmaps_campaigns_organization_idx ON public.gmaps_campaigns (organization_id, created_at DESC, id DESC);

-- Children of a campaign: their campaign's organization.
ALTER TABLE public.gmaps_campaign_coverage ADD COLUMN organization_id uuid;
UPDATE public.gmaps_campaign_coverage x SET organization_id = c.organization_id
  FROM public.gmaps_campaigns c WHERE c.id = x.campaign_id;
ALTER TABLE public.gmaps_businesses ADD COLUMN organization_id uuid;
UPDATE public.gmaps_businesses x SET organization_id = c.organization_id
  FROM public.gmaps_campaigns c WHERE c.id = x.campaign_id;
ALTER TABLE public.gmaps_facebook_enrichments ADD COLUMN organization_id uuid;
UPDATE public.gmaps_facebook_enrichments x SET organization_id = c.organization_id
  FROM public.gmaps_campaigns c WHERE c.id = x.campaign_id;
ALTER TABLE public.gmaps_linkedin_enrichments ADD COLUMN organization_id uuid;
UPDATE public.gmaps_linkedin_enrichments x SET organization_id = c.organization_id
  FROM public.gmaps_campaigns c WHERE c.id = x.campaign_id;
ALTER TABLE public.gmaps_email_verifications ADD COLUMN organization_id uuid;
UPDATE public.gmaps_email_verifications x SET organization_id = c.organization_id
  FROM public.gmaps_campaigns c WHERE c.id = x.campaign_id;
ALTER TABLE public.gmaps_api_costs ADD COLUMN organization_id uuid;
UPDATE public.gmaps_api_costs x SET organization_id = c.organization_id
  FROM public.gmaps_campaigns c WHERE c.id = x.campaign_id;
ALTER TABLE public.gmaps_campaign_status_history ADD COLUMN organization_id uuid;
UPDATE public.gmaps_campaign_status_history x SET organization_id = c.organization_id
  FROM public.gmaps_campaigns c WHERE c.id = x.campaign_id;
-- Leases: their business's organization.
ALTER TABLE public.gmaps_enrichment_leases ADD COLUMN organization_id uuid;
UPDATE public.gmaps_enrichment_leases x SET organization_id = b.organization_id
  FROM public.gmaps_businesses b WHERE b.id = x.business_id;

ALTER TABLE public.gmaps_campaign_coverage
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT gmaps_campaign_coverage_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;
ALTER TABLE public.gmaps_businesses
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT gmaps_businesses_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;
ALTER TABLE public.gmaps_facebook_enrichments
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT gmaps_facebook_enrichments_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;
ALTER TABLE public.gmaps_linkedin_enrichments
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT gmaps_linkedin_enrichments_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;
ALTER TABLE public.gmaps_email_verifications
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT gmaps_email_verifications_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;
ALTER TABLE public.gmaps_api_costs
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT gmaps_api_costs_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;
ALTER TABLE public.gmaps_campaign_status_history
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT gmaps_campaign_status_history_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;
ALTER TABLE public.gmaps_enrichment_leases
    ALTER COLUMN organization_id SET NOT NULL,
    ADD CONSTRAINT gmaps_enrichment_leases_organization_id_fkey
        FOREIGN KEY (organization_id) REFERENCES public.organizations (id) ON DELETE CASCADE;

-- Serve the ON DELETE CASCADE from organizations and end users' reads under row level security
-- (org_members_read: organization_id = the caller's organization).
CREATE INDEX gmaps_campaign_coverage_organization_idx ON public.gmaps_campaign_coverage (organization_id);
CREATE INDEX gmaps_businesses_organization_idx ON public.gmaps_businesses (organization_id);
CREATE INDEX gmaps_facebook_enrichments_organization_idx ON public.gmaps_facebook_enrichments (organization_id);
CREATE INDEX gmaps_linkedin_enrichments_organization_idx ON public.gmaps_linkedin_enrichments (organization_id);
CREATE INDEX gmaps_email_verifications_organization_idx ON public.gmaps_email_verifications (organization_id);
CREATE INDEX gmaps_api_costs_organization_idx ON public.gmaps_api_costs (organization_id);
CREATE INDEX gmaps_campaign_status_history_organization_idx ON public.gmaps_campaign_status_history (organization_id);
CREATE INDEX gmaps_enrichment_leases_organization_idx ON public.gmaps_enrichment_leases (organization_id);

-- The functions take p_organization_id now (and three helpers the organization): the old
-- signatures go, the current state creates the new ones.
DROP FUNCTION IF EXISTS public.create_campaign_with_coverage(jsonb, jsonb);
DROP FUNCTION IF EXISTS public.insert_businesses_batch(uuid, varchar, jsonb);
DROP FUNCTION IF EXISTS public.update_campaign_statistics(uuid);
DROP FUNCTION IF EXISTS public.track_campaign_cost(uuid, varchar, integer, numeric, jsonb);
DROP FUNCTION IF EXISTS public.update_coverage_status(uuid, varchar, integer, integer, numeric, varchar, text);
DROP FUNCTION IF EXISTS public.update_enrichment_batch(varchar, jsonb);
DROP FUNCTION IF EXISTS public.save_facebook_enrichment(uuid, uuid, jsonb);
DROP FUNCTION IF EXISTS public.save_linkedin_enrichment(uuid, uuid, jsonb);
DROP FUNCTION IF EXISTS public.update_email_verification(uuid, varchar, jsonb);
DROP FUNCTION IF EXISTS public.get_businesses_for_enrichment(uuid, varchar, integer, integer);
DROP FUNCTION IF EXISTS public.claim_businesses_for_enrichment(uuid, varchar, text, integer, interval);
DROP FUNCTION IF EXISTS public.transition_campaign_status(uuid, varchar, text);
DROP FUNCTION IF EXISTS public.get_campaign_overview(uuid);
DROP FUNCTION IF EXISTS public.list_campaigns(integer, timestamptz, uuid, varchar);
DROP FUNCTION IF EXISTS leadledger.gmaps_assert_campaign(uuid);
DROP FUNCTION IF EXISTS leadledger.gmaps_enrichment_items(text, jsonb);
DROP FUNCTION IF EXISTS leadledger.gmaps_save_enrichment(text, uuid, uuid, jsonb);
