-- Rollback of 20261123010100_campaign_functions. Its functions now live in campaigns/sql/ (the
-- current state), which `db down` removes before it rolls back any migration; its composite type
-- belongs to 20261202010000_enrichment_item_type. Nothing is left to drop here.
SELECT 1;
