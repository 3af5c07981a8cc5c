-- Rollback of 20261123000000_core: drops the leadledger schema and its privilege helpers (the
-- other helpers are current state, db/sql/, removed by `db down` before any rollback). The drops are
-- explicit (no CASCADE) so that anything a later migration left behind makes this fail loudly.
-- The cluster-wide role leadledger_service is kept: other databases of the cluster may still
-- hold privileges granted to it (see docs/decisions.md).
DROP FUNCTION leadledger.secure_table(regclass, boolean);
DROP FUNCTION leadledger.secure_function(regprocedure, boolean);
DROP FUNCTION leadledger.revoke_from_everyone(text, text);
DROP SCHEMA leadledger;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role')
       AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'leadledger_service') THEN
        REVOKE leadledger_service FROM service_role;
    END IF;
END
$$;
