-- Seed conformance (issue 8): what the document's examples and the review needed of the tables.
--
-- * Enrichment attempts per business and type (000 §1.8's enrichment_attempts): counted by
--   claim_businesses_for_enrichment (each claim) and by saves made without a live claim. A
--   business already enriched, not found or failed has had at least one attempt.
-- * A campaign's creator may be an email address (000 §1.1 passes "user@example.com").
-- * A ZIP may be marked failed, with the reason (coverage status 'failed' was unreachable).
-- * get_businesses_for_enrichment returns the document's columns and update_coverage_status
--   takes a status and an error: both signatures change, so the old ones are dropped here and
--   the current state (campaigns/sql/) creates the new ones.
ALTER TABLE public.gmaps_businesses
    ADD COLUMN facebook_enrichment_attempts integer NOT NULL DEFAULT 0
        CONSTRAINT gmaps_businesses_facebook_enrichment_attempts_check CHECK (facebook_enrichment_attempts >= 0),
    ADD COLUMN linkedin_enrichment_attempts integer NOT NULL DEFAULT 0
        CONSTRAINT gmaps_businesses_linkedin_enrichment_attempts_check CHECK (linkedin_enrichment_attempts >= 0);
UPDATE public.gmaps_businesses
   SET facebook_enrichment_attempts = (facebook_enrichment_status <> 'pending')::integer,
       linkedin_enrichment_attempts = (linkedin_enrichment_status <> 'pending')::integer
 WHERE facebook_enrichment_status <> 'pending' OR linkedin_enrichment_status <> 'pending';

ALTER TABLE public.gmaps_campaigns
    ADD COLUMN created_by_email text
        CONSTRAINT gmaps_campaigns_created_by_email_check
        CHECK (created_by_email = lower(btrim(created_by_email))
               AND created_by_email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$');
COMMENT ON COLUMN public.gmaps_campaigns.created_by_email IS
    'The creator when given as an email address (created_by holds a user id).';

ALTER TABLE public.gmaps_campaign_coverage
    ADD COLUMN error text,
    ADD COLUMN failed_at timestamptz;
COMMENT ON COLUMN public.gmaps_campaign_coverage.error IS 'Why scraping this ZIP failed (status failed).';

DROP FUNCTION IF EXISTS public.get_businesses_for_enrichment(uuid, varchar, integer, integer);
DROP FUNCTION IF EXISTS public.update_coverage_status(uuid, varchar, integer, integer, numeric);
