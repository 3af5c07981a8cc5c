-- Rollback of 20261123030000_etl_states.
DROP TABLE etl_api.etl_log;
DROP TABLE etl_api.state_history;
DROP TABLE etl_api.run_request;
DROP TABLE etl_api.run_queue;
DROP TABLE etl_api.activity_request;
DROP TABLE etl_api.workflow_request;
DROP TABLE etl_api.org;
DROP TYPE etl_api.workflow_request_state;
DROP TYPE etl_api.run_request_state;
DROP TYPE etl_api.run_queue_state;
DROP TYPE etl_api.activity_request_state;
DROP SCHEMA etl_api;
