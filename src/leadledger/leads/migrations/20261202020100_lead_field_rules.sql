-- leadledger.lead_field_problem also checks the details (at most 10000 characters, the HTTP
-- API's rule, now the function's: tests/test_validation_parity.py). Its signature grows by one
-- parameter, so the old one goes; the current state (leads/sql/00_helpers.sql) creates the new.
DROP FUNCTION IF EXISTS leadledger.lead_field_problem(text, text, text, text, text);
