-- ETL engine, phase 1: the stored functions (and views) of issues 2-5. They are current state now, in
-- etl/sql/ (docs/sql-conventions.md), applied by `db up` after the migrations; this file
-- keeps its version so that the databases which applied it stay consistent, and creates nothing.
-- (its table legacy_status_map is now 20261202030000_legacy_status_map.)
-- The text databases applied is in git history; its checksum stays valid for them:
-- leadledger:replaces sha256:65ced74a27a83f84811c45f22d1ca1884fed9c2d8e1fe22fd4bf79560c22e05e (git 20c4d12:src/leadledger/etl/migrations/20261123030100_etl_functions.sql)
SELECT 1;
