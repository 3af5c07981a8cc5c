-- Rollback of 20261202010000_enrichment_item_type (the functions using it are current state,
-- already removed by `db down`).
DROP TYPE IF EXISTS leadledger.gmaps_enrichment_item;
