-- Rollback of 20261123030100_etl_functions. Its functions and views now live in etl/sql/ (the
-- current state), which `db down` removes before it rolls back any migration; its table
-- belongs to 20261202030000_legacy_status_map, rolled back before this one.
DROP TABLE IF EXISTS etl_api.legacy_status_map;
