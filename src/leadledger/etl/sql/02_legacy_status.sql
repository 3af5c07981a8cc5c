-- ETL engine, current state: legacy status mapping (for users moving from the old text status
-- columns; the mapping itself is the table etl_api.legacy_status_map).
-- Re-applied by `leadledger db up` whenever this file changes (docs/sql-conventions.md).

-- map_legacy_status: (state, substate) of an old status (case-insensitive: DONE and done are
-- both done); an unknown status is an error naming it (22023).
CREATE OR REPLACE FUNCTION etl_api.map_legacy_status(p_status text, OUT state text, OUT substate text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT m.state, m.substate INTO state, substate
      FROM etl_api.legacy_status_map m WHERE m.legacy_status = lower(btrim(p_status));
    IF NOT FOUND THEN
        PERFORM leadledger.invalid_parameter('p_status', format('unknown legacy status %s',
                                                                coalesce(quote_literal(p_status), 'nothing')));
    END IF;
END
$$;

-- convert_legacy_status: sets state and state_substate of every row of one ETL table from its
-- legacy text status column, and reports how many rows each mapping converted.
-- Guarantees: all or nothing: every distinct legacy value is checked first and an unknown one
-- fails the call naming all unknown values, with nothing changed. The column name is checked
-- against the catalog and quoted from it; the table comes from the whitelist.
-- Tenancy: the service only (42501 for anyone else, whatever grants say): it rewrites the rows of
-- every organization at once (docs/decisions.md D47).
CREATE OR REPLACE FUNCTION etl_api.convert_legacy_status(p_table text, p_column text DEFAULT 'status')
RETURNS TABLE (legacy_status text, state text, substate text, rows_converted bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET statement_timeout = '0'
AS $$
DECLARE
    v_target record;
    v_column name;
    v_unknown text[];
BEGIN
    IF NOT leadledger.org_is_service() THEN
        PERFORM leadledger.raise_error('42501', 'Not allowed: only the service converts legacy statuses',
            'convert_legacy_status rewrites the rows of every organization');
    END IF;
    SELECT * INTO v_target FROM etl_api.state_table(p_table);
    IF v_target.rel IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_table', format('not an ETL table with a state: %s',
                                                               coalesce(quote_literal(p_table), 'nothing')));
    END IF;
    SELECT a.attname INTO v_column FROM pg_attribute a
     WHERE a.attrelid = v_target.rel AND a.attname = p_column AND a.attnum > 0 AND NOT a.attisdropped
       AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype);
    IF v_column IS NULL THEN
        PERFORM leadledger.invalid_parameter('p_column', format('%s has no text column %s', p_table,
                                                                coalesce(quote_literal(p_column), 'nothing')));
    END IF;
    EXECUTE format('SELECT array_agg(DISTINCT t.%1$I ORDER BY t.%1$I) FROM %2$s t WHERE t.%1$I IS NOT NULL'
                   ' AND NOT EXISTS (SELECT 1 FROM etl_api.legacy_status_map m'
                   ' WHERE m.legacy_status = lower(btrim(t.%1$I)))', v_column, v_target.rel)
        INTO v_unknown;
    IF v_unknown IS NOT NULL THEN
        PERFORM leadledger.invalid_parameter(p_column, format('unknown legacy statuses: %s', array_to_string(v_unknown, ', ')));
    END IF;

    PERFORM set_config('etl_api.transition_in_progress', 'on', true);
    RETURN QUERY EXECUTE format($sql$
        WITH converted AS (
            UPDATE %2$s t SET state = m.state::%3$s, state_substate = m.substate, state_changed_at = clock_timestamp()
              FROM etl_api.legacy_status_map m
             WHERE m.legacy_status = lower(btrim(t.%1$I))
            RETURNING t.%1$I AS legacy, m.state, m.substate
        )
        SELECT legacy::text, state, substate, count(*) FROM converted GROUP BY 1, 2, 3 ORDER BY 1
        $sql$, v_column, v_target.rel, v_target.state_type);
    PERFORM set_config('etl_api.transition_in_progress', 'off', true);
    PERFORM etl_api.logger('info', format('converted legacy status column %s of %s', v_column, p_table),
                           jsonb_build_object('table', p_table, 'column', v_column));
END
$$;


SELECT leadledger.secure_function('etl_api.map_legacy_status(text)');
SELECT leadledger.secure_function('etl_api.convert_legacy_status(text, text)');
