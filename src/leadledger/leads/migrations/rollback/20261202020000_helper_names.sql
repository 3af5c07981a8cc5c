-- Rollback of 20261202020000_helper_names: nothing to undo here. The helpers are current state,
-- which `db down` removes (under their new names) before any migration is rolled back.
SELECT 1;
