-- Rollback of 20261123030300_etl_reads.
DROP FUNCTION etl_api.get_stuck_rows(integer);
DROP FUNCTION etl_api.get_state_counts();
