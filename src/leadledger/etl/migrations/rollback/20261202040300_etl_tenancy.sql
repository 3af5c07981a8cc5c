-- Rollback of 20261202040300_etl_tenancy (its functions, trigger and policies are current state,
-- removed by `db down` before this runs). Factors that had no organization keep the default
-- organization's id (which etl_api.org has too), and the etl_api.org rows made for every
-- organization stay: both are still valid rows of the schema before.
DO $$
DECLARE
    v_table regclass;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['etl_api.org', 'etl_api.workflow_request', 'etl_api.activity_request',
                                   'etl_api.run_queue', 'etl_api.run_request', 'etl_api.state_history',
                                   'etl_api.etl_log']::regclass[] LOOP
        EXECUTE format('DROP POLICY leadledger_service_reads ON %s', v_table);
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', v_table);
    END LOOP;
END
$$;

DROP INDEX etl_api.state_history_org_idx;
ALTER TABLE etl_api.state_history DROP COLUMN org_id;

DROP INDEX public.factor_org_idx;
CREATE INDEX factor_org_idx ON public.factor (org_id) WHERE deleted_at IS NULL;
ALTER TABLE public.factor
    ALTER COLUMN org_id DROP NOT NULL,
    DROP CONSTRAINT factor_org_id_fkey,
    ADD CONSTRAINT factor_org_id_fkey FOREIGN KEY (org_id) REFERENCES etl_api.org (id) ON DELETE CASCADE;

GRANT INSERT ON etl_api.org TO leadledger_service;
