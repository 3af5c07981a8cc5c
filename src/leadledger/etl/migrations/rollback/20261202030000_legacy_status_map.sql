-- Rollback of 20261202030000_legacy_status_map.
DROP TABLE IF EXISTS etl_api.legacy_status_map;
