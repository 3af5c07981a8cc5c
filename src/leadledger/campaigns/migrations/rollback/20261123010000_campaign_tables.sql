-- Rollback of 20261123010000_campaign_tables: drops the campaign tables, children first.
DROP TABLE public.gmaps_enrichment_leases;
DROP TABLE public.gmaps_campaign_status_history;
DROP TABLE public.gmaps_api_costs;
DROP TABLE public.gmaps_email_verifications;
DROP TABLE public.gmaps_linkedin_enrichments;
DROP TABLE public.gmaps_facebook_enrichments;
DROP TABLE public.gmaps_businesses;
DROP TABLE public.gmaps_campaign_coverage;
DROP TABLE public.gmaps_campaigns;
