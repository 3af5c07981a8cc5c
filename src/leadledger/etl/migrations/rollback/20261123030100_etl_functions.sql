-- Rollback of 20261123030100_etl_functions.
DROP VIEW etl_api.transitions_per_hour;
DROP VIEW etl_api.stuck_rows;
DROP VIEW etl_api.state_ages;
DROP VIEW etl_api.state_counts;
DROP VIEW etl_api.all_states;
DROP FUNCTION etl_api.convert_legacy_status(text, text);
DROP FUNCTION etl_api.map_legacy_status(text);
DROP TABLE etl_api.legacy_status_map;
DROP FUNCTION etl_api.mark_timedout(interval);
DROP FUNCTION etl_api.transition_state(text, uuid, text, text, text);
DROP FUNCTION etl_api.logger(text, text, jsonb);
DROP FUNCTION etl_api.is_valid_state_transition(text, text);
DROP FUNCTION etl_api.state_table(text);
