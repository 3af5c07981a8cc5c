-- Campaign pipeline, part 1: tables, constraints and indexes.
-- Google Maps campaigns scraped by ZIP code, the businesses found, their Facebook and LinkedIn
-- enrichments, email verifications (an audit log), API costs, status history and enrichment
-- leases. Every enumerated column has a CHECK; every index says which query it serves.

CREATE TABLE public.gmaps_campaigns (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                    text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    description             text,
    keywords                text[] NOT NULL DEFAULT '{}',
    location                text,
    coverage_profile        text,
    organization_id         uuid,
    created_by              uuid,
    status                  text NOT NULL DEFAULT 'draft'
                            CHECK (status IN ('draft', 'running', 'paused', 'completed', 'failed', 'cancelled')),
    status_reason           text,
    status_changed_at       timestamptz NOT NULL DEFAULT now(),
    target_zip_count        integer NOT NULL DEFAULT 0 CHECK (target_zip_count >= 0),
    estimated_cost          numeric(14, 6) NOT NULL DEFAULT 0 CHECK (estimated_cost >= 0),
    actual_cost             numeric(14, 6) NOT NULL DEFAULT 0 CHECK (actual_cost >= 0),
    -- Written by update_campaign_statistics (exact totals as of its last call).
    total_businesses        integer NOT NULL DEFAULT 0,
    total_emails            integer NOT NULL DEFAULT 0,
    total_facebook_pages    integer NOT NULL DEFAULT 0,
    total_linkedin_profiles integer NOT NULL DEFAULT 0,
    total_verified_emails   integer NOT NULL DEFAULT 0,
    zips_scraped            integer NOT NULL DEFAULT 0,
    statistics_updated_at   timestamptz,
    started_at              timestamptz,
    completed_at            timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.gmaps_campaigns IS 'Google Maps scraping campaigns: targets, status, cost and statistics.';
-- Serves list_campaigns (keyset pagination, newest first) and per-organization listing.
CREATE INDEX gmaps_campaigns_created_idx ON public.gmaps_campaigns (created_at DESC, id DESC);
CREATE INDEX gmaps_campaigns_org_idx ON public.gmaps_campaigns (organization_id, created_at DESC)
    WHERE organization_id IS NOT NULL;

CREATE TABLE public.gmaps_campaign_coverage (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id      uuid NOT NULL REFERENCES public.gmaps_campaigns (id) ON DELETE CASCADE,
    zip_code         varchar(5) NOT NULL CHECK (zip_code ~ '^[0-9]{5}$'),
    keywords         text[] NOT NULL DEFAULT '{}',
    max_results      integer CHECK (max_results > 0),
    estimated_cost   numeric(14, 6) NOT NULL DEFAULT 0 CHECK (estimated_cost >= 0),
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'scraped', 'failed')),
    businesses_found integer CHECK (businesses_found >= 0),
    emails_found     integer CHECK (emails_found >= 0),
    actual_cost      numeric(14, 6) CHECK (actual_cost >= 0),
    scraped_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- One row per campaign and ZIP; serves update_coverage_status and coverage progress.
    CONSTRAINT gmaps_campaign_coverage_campaign_zip_key UNIQUE (campaign_id, zip_code)
);
COMMENT ON TABLE public.gmaps_campaign_coverage IS 'One row per campaign and ZIP code to scrape.';

CREATE TABLE public.gmaps_businesses (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id                uuid NOT NULL REFERENCES public.gmaps_campaigns (id) ON DELETE CASCADE,
    place_id                   text NOT NULL CHECK (length(place_id) BETWEEN 1 AND 512),
    zip_code                   varchar(5) CHECK (zip_code ~ '^[0-9]{5}$'),
    name                       text,
    address                    text,
    street                     text,
    city                       text,
    postal_code                text,
    state                      text,
    country_code               text,
    phone                      text,
    website                    text,
    category                   text,
    rating                     numeric(3, 2) CHECK (rating BETWEEN 0 AND 5),
    reviews_count              integer CHECK (reviews_count >= 0),
    latitude                   double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude                  double precision CHECK (longitude BETWEEN -180 AND 180),
    -- The best email known, by source priority linkedin > facebook > google_maps.
    email                      text,
    email_source               text CHECK (email_source IN ('google_maps', 'facebook', 'linkedin')),
    email_verification_status  text
                               CHECK (email_verification_status IN ('deliverable', 'risky', 'undeliverable', 'unknown')),
    email_is_safe              boolean,
    facebook_url               text,
    linkedin_url               text,
    facebook_enrichment_status text NOT NULL DEFAULT 'pending'
                               CHECK (facebook_enrichment_status IN ('pending', 'enriched', 'not_found', 'failed')),
    linkedin_enrichment_status text NOT NULL DEFAULT 'pending'
                               CHECK (linkedin_enrichment_status IN ('pending', 'enriched', 'not_found', 'failed')),
    raw_data                   jsonb,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT gmaps_businesses_email_has_source CHECK ((email IS NULL) = (email_source IS NULL)),
    -- A place is one business per campaign (two neighbouring ZIPs find it once); serves the
    -- upsert of insert_businesses_batch and, by its leading column, the per-campaign scans of
    -- update_campaign_statistics and of the ON DELETE CASCADE from gmaps_campaigns.
    CONSTRAINT gmaps_businesses_campaign_place_key UNIQUE (campaign_id, place_id)
);
COMMENT ON TABLE public.gmaps_businesses IS 'Businesses found on Google Maps, one per campaign and place.';
-- Serves update_campaign_statistics: an index-only scan of one campaign's counted columns, so
-- the statistics do not read the wide rows (raw_data) at all (docs/benchmarks.md: 100k
-- businesses 51-56 ms -> 9 ms).
CREATE INDEX gmaps_businesses_statistics_idx ON public.gmaps_businesses (campaign_id)
    INCLUDE (email_verification_status, email, facebook_url, linkedin_url);
-- Serve get_businesses_for_enrichment and claim_businesses_for_enrichment: the pending
-- businesses of one campaign in a stable order.
CREATE INDEX gmaps_businesses_facebook_pending_idx ON public.gmaps_businesses (campaign_id, created_at, id)
    WHERE facebook_enrichment_status = 'pending';
CREATE INDEX gmaps_businesses_linkedin_pending_idx ON public.gmaps_businesses (campaign_id, created_at, id)
    WHERE linkedin_enrichment_status = 'pending';

CREATE TABLE public.gmaps_facebook_enrichments (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id               uuid NOT NULL REFERENCES public.gmaps_businesses (id) ON DELETE CASCADE,
    campaign_id               uuid NOT NULL REFERENCES public.gmaps_campaigns (id) ON DELETE CASCADE,
    status                    text NOT NULL DEFAULT 'enriched' CHECK (status IN ('enriched', 'not_found', 'failed')),
    facebook_url              text,
    page_name                 text,
    primary_email             text,
    emails                    text[] NOT NULL DEFAULT '{}',
    phone_numbers             text[] NOT NULL DEFAULT '{}',
    email_verification_status text
                              CHECK (email_verification_status IN ('deliverable', 'risky', 'undeliverable', 'unknown')),
    raw_data                  jsonb,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    -- One current enrichment per business (a re-run replaces it); serves the upsert.
    CONSTRAINT gmaps_facebook_enrichments_business_key UNIQUE (business_id)
);
-- Serves the ON DELETE CASCADE from gmaps_campaigns.
CREATE INDEX gmaps_facebook_enrichments_campaign_idx ON public.gmaps_facebook_enrichments (campaign_id);

CREATE TABLE public.gmaps_linkedin_enrichments (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id               uuid NOT NULL REFERENCES public.gmaps_businesses (id) ON DELETE CASCADE,
    campaign_id               uuid NOT NULL REFERENCES public.gmaps_campaigns (id) ON DELETE CASCADE,
    status                    text NOT NULL DEFAULT 'enriched' CHECK (status IN ('enriched', 'not_found', 'failed')),
    linkedin_url              text,
    company_name              text,
    company_size              text,
    industry                  text,
    person_name               text,
    person_title              text,
    primary_email             text,
    emails                    text[] NOT NULL DEFAULT '{}',
    phone_numbers             text[] NOT NULL DEFAULT '{}',
    email_verification_status text
                              CHECK (email_verification_status IN ('deliverable', 'risky', 'undeliverable', 'unknown')),
    raw_data                  jsonb,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT gmaps_linkedin_enrichments_business_key UNIQUE (business_id)
);
CREATE INDEX gmaps_linkedin_enrichments_campaign_idx ON public.gmaps_linkedin_enrichments (campaign_id);

CREATE TABLE public.gmaps_email_verifications (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    business_id  uuid NOT NULL REFERENCES public.gmaps_businesses (id) ON DELETE CASCADE,
    campaign_id  uuid NOT NULL REFERENCES public.gmaps_campaigns (id) ON DELETE CASCADE,
    email        text NOT NULL,
    status       text NOT NULL CHECK (status IN ('deliverable', 'risky', 'undeliverable', 'unknown')),
    is_safe      boolean NOT NULL,
    reason       text,
    score        numeric(5, 2),
    -- Where the verified email was found: the sources whose status this verification updated.
    sources      text[] NOT NULL DEFAULT '{}'
                 CHECK (sources <@ ARRAY['google_maps', 'facebook', 'linkedin']::text[]),
    provider     text,
    raw_response jsonb NOT NULL,
    verified_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.gmaps_email_verifications IS 'Audit log: one row per email verification call.';
-- Serves "latest verification of this business's email" lookups and the business cascade.
CREATE INDEX gmaps_email_verifications_business_idx
    ON public.gmaps_email_verifications (business_id, verified_at DESC);
CREATE INDEX gmaps_email_verifications_campaign_idx ON public.gmaps_email_verifications (campaign_id);

CREATE TABLE public.gmaps_api_costs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    campaign_id     uuid NOT NULL REFERENCES public.gmaps_campaigns (id) ON DELETE CASCADE,
    service         text NOT NULL CHECK (service IN ('google_maps', 'facebook', 'linkedin', 'bouncer')),
    items_processed integer NOT NULL CHECK (items_processed >= 0),
    cost_usd        numeric(14, 6) NOT NULL CHECK (cost_usd >= 0),
    metadata        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.gmaps_api_costs IS 'Every API cost, one row per track_campaign_cost call.';
-- Serves costs by service in get_campaign_overview and the campaign cascade.
CREATE INDEX gmaps_api_costs_campaign_service_idx ON public.gmaps_api_costs (campaign_id, service);

CREATE TABLE public.gmaps_campaign_status_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id uuid NOT NULL REFERENCES public.gmaps_campaigns (id) ON DELETE CASCADE,
    from_status text NOT NULL CHECK (from_status IN ('draft', 'running', 'paused', 'completed', 'failed', 'cancelled')),
    to_status   text NOT NULL CHECK (to_status IN ('draft', 'running', 'paused', 'completed', 'failed', 'cancelled')),
    reason      text,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.gmaps_campaign_status_history IS 'Every campaign status transition, with time and reason.';
-- Serves the history of one campaign in order, and the cascade.
CREATE INDEX gmaps_campaign_status_history_campaign_idx
    ON public.gmaps_campaign_status_history (campaign_id, changed_at, id);

CREATE TABLE public.gmaps_enrichment_leases (
    business_id     uuid NOT NULL REFERENCES public.gmaps_businesses (id) ON DELETE CASCADE,
    enrichment_type text NOT NULL CHECK (enrichment_type IN ('facebook', 'linkedin')),
    worker          text NOT NULL,
    expires_at      timestamptz NOT NULL,
    -- One lease per business and type; the claim's ON CONFLICT arbitrates racing workers.
    PRIMARY KEY (business_id, enrichment_type)
);
COMMENT ON TABLE public.gmaps_enrichment_leases IS
    'Who is enriching which business until when (claim_businesses_for_enrichment).';

-- Tables are written through the stored functions only: no access for PUBLIC or the API roles,
-- read access for leadledger_service, row level security on (leadledger.secure_table).
SELECT leadledger.secure_table(t)
  FROM unnest(ARRAY['public.gmaps_campaigns', 'public.gmaps_campaign_coverage', 'public.gmaps_businesses',
                    'public.gmaps_facebook_enrichments', 'public.gmaps_linkedin_enrichments',
                    'public.gmaps_email_verifications', 'public.gmaps_api_costs',
                    'public.gmaps_campaign_status_history', 'public.gmaps_enrichment_leases']::regclass[]) t;
