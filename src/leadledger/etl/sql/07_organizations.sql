-- ETL engine, current state: etl_api.org follows public.organizations.
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

-- org_follows_organization: every new organization gets its etl_api.org row (the ETL engine's
-- settings of an organization, 1:1 with public.organizations: docs/decisions.md D45), with the
-- same id and name, and a renamed one's name follows. Whoever writes ETL rows needs only the
-- organization; the foreign key etl_api.org.id -> public.organizations.id (ON DELETE CASCADE)
-- removes the row, and every ETL row of the organization, with it.
-- 20261202040300_etl_tenancy made the rows of the organizations that existed before.
CREATE OR REPLACE FUNCTION etl_api.org_follows_organization()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO etl_api.org AS o (id, name, created_at) VALUES (NEW.id, NEW.name, NEW.created_at)
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()
     WHERE o.name IS DISTINCT FROM EXCLUDED.name;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER organizations_etl_org AFTER INSERT OR UPDATE OF name ON public.organizations
    FOR EACH ROW EXECUTE FUNCTION etl_api.org_follows_organization();
