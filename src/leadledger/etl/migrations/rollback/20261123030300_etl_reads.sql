-- Rollback of 20261123030300_etl_reads. Its functions now live in etl/sql/ (the current state),
-- which `db down` removes before it rolls back any migration. Nothing is left to drop here.
SELECT 1;
