-- The leads domain's helpers take the domain's prefix (lead_), the rule of docs/sql-conventions.md
-- (core helpers unprefixed, campaigns gmaps_, leads lead_, the ETL engine in etl_api). Renamed,
-- not dropped: the audit and integrity triggers point at their functions, and keep pointing at
-- them under the new names; the current state (leads/sql/) then replaces the bodies. A database
-- built from the current files alone never had the old names: each rename is conditional.
DO $$
DECLARE
    v_rename record;
BEGIN
    FOR v_rename IN
        SELECT * FROM (VALUES
            ('leadledger.jwt_user_id()', 'lead_jwt_user_id'),
            ('leadledger.assert_tenant(uuid)', 'lead_assert_tenant'),
            ('leadledger.normalize_phone(text, boolean)', 'lead_normalize_phone'),
            ('leadledger.open_conversation(uuid, uuid)', 'lead_open_conversation'),
            ('leadledger.stored_message(uuid, text)', 'lead_stored_message'),
            ('leadledger.lock_own_lead(uuid, uuid)', 'lead_lock_own'),
            ('leadledger.current_actor()', 'lead_audit_actor'),
            ('leadledger.audit_row_change()', 'lead_audit_row_change')) AS r(old, new)
    LOOP
        IF to_regprocedure(v_rename.old) IS NOT NULL THEN
            EXECUTE format('ALTER FUNCTION %s RENAME TO %I', to_regprocedure(v_rename.old), v_rename.new);
        END IF;
    END LOOP;
END
$$;
