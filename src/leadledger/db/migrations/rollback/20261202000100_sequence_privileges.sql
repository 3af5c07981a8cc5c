-- Rollback of 20261202000100_sequence_privileges: nothing to reopen. Sequences stay closed to the
-- API roles (the tables they number are dropped by their own rollbacks).
SELECT 1;
