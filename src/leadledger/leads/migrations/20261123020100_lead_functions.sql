-- Leads and conversations, part 2: the stored functions (and views) of issues 2-5. They are current state now, in
-- leads/sql/ (docs/sql-conventions.md), applied by `db up` after the migrations; this file
-- keeps its version so that the databases which applied it stay consistent, and creates nothing.
-- The text databases applied is in git history; its checksum stays valid for them:
-- leadledger:replaces sha256:f3d4e9f24a6dfc9d44b37690e2d3f195029049b3c10058b7f91ba68e6eed2450 (git 20c4d12:src/leadledger/leads/migrations/20261123020100_lead_functions.sql)
SELECT 1;
