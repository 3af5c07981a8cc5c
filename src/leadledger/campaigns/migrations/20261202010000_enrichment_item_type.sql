-- The composite type the enrichment functions (campaigns/sql/06_enrichment.sql) pass their
-- parsed items in. 20261123010100_campaign_functions created it together with the functions;
-- since the functions became current state, the type is versioned here on its own. A database
-- that applied 20261123010100 has it already: nothing changes there.
DO $$
BEGIN
    IF to_regtype('leadledger.gmaps_enrichment_item') IS NULL THEN
        CREATE TYPE leadledger.gmaps_enrichment_item AS (
            idx integer, business_id uuid, campaign_id uuid, problem text, status text, url text,
            page_name text, company_name text, company_size text, industry text, person_name text,
            person_title text, primary_email text, emails text[], phone_numbers text[], raw_data jsonb
        );
    END IF;
END
$$;
