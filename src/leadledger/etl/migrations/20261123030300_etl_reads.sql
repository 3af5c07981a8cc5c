-- ETL engine, phase 1: read functions: the stored functions (and views) of issues 2-5. They are current state now, in
-- etl/sql/ (docs/sql-conventions.md), applied by `db up` after the migrations; this file
-- keeps its version so that the databases which applied it stay consistent, and creates nothing.
-- The text databases applied is in git history; its checksum stays valid for them:
-- leadledger:replaces sha256:4e60006c17fe8f01ca91a502ea510d8aac88fcf0dc12edbc744e32dc0eac4390 (git 20c4d12:src/leadledger/etl/migrations/20261123030300_etl_reads.sql)
SELECT 1;
