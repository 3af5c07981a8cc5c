-- Rollback of 20261123020100_lead_functions. Its functions now live in leads/sql/ (the current
-- state), which `db down` removes before it rolls back any migration. Nothing is left to drop here.
SELECT 1;
