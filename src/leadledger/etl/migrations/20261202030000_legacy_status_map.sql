-- The legacy status mapping table. 20261123030100_etl_functions created it together with the
-- functions that read it; since those became current state (etl/sql/02_legacy_status.sql), the
-- table and its rows are versioned here on their own. A database that applied 20261123030100 has
-- them already: nothing changes there.
CREATE TABLE IF NOT EXISTS etl_api.legacy_status_map (
    legacy_status text PRIMARY KEY CHECK (legacy_status = lower(legacy_status)),
    state         text NOT NULL
                  CHECK (state IN ('new', 'valid', 'invalid', 'waiting', 'ready', 'in_progress', 'timedout',
                                   'failed', 'done', 'delivered')),
    substate      text
);
COMMENT ON TABLE etl_api.legacy_status_map IS 'Old text statuses and the (state, substate) each becomes; matched case-insensitively.';
INSERT INTO etl_api.legacy_status_map (legacy_status, state, substate) VALUES
    ('pending', 'new', NULL),
    ('validation', 'valid', NULL),
    ('activity_processed', 'ready', NULL),
    ('waiting', 'waiting', NULL),
    ('running', 'in_progress', NULL),
    ('processing', 'in_progress', NULL),
    ('missing_value', 'invalid', 'missing_value'),
    ('invalid_missing_value', 'invalid', 'missing_value'),
    ('invalid_json', 'invalid', 'invalid_json'),
    ('completed', 'done', NULL),
    ('done', 'done', NULL),
    ('failed', 'failed', NULL)
ON CONFLICT (legacy_status) DO NOTHING;
GRANT SELECT ON etl_api.legacy_status_map TO leadledger_service;
