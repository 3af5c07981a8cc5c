-- Rollback of 20261202020100_lead_field_rules: nothing to undo (the helper is current state).
SELECT 1;
