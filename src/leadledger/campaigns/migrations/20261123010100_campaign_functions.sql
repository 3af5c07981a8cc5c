-- Campaign pipeline, part 2: the stored functions (and views) of issues 2-5. They are current state now, in
-- campaigns/sql/ (docs/sql-conventions.md), applied by `db up` after the migrations; this file
-- keeps its version so that the databases which applied it stay consistent, and creates nothing.
-- (its composite type gmaps_enrichment_item is now 20261202010000_enrichment_item_type.)
-- The text databases applied is in git history; its checksum stays valid for them:
-- leadledger:replaces sha256:3d7f885726db5cadf94ee80d24c64597a78424f230185fd6794ca2151480afc4 (git 20c4d12:src/leadledger/campaigns/migrations/20261123010100_campaign_functions.sql)
SELECT 1;
