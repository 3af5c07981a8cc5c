-- ETL engine, phase 1: the schema etl_api, its request tables, the standardized state system
-- (one enum per table, the same ten states), transition rules, state history, logging and the
-- monitoring views. The engine (activities, runs, sources, mapping, workers, delivery) builds on
-- these tables in later migrations.
--
-- Functions, views and triggers that this migration created when it landed are current state
-- now (etl/sql/00_state_guard.sql, docs/sql-conventions.md): removed from here, so each has one body.
-- The text databases applied is in git history; its checksum stays valid for them:
-- leadledger:replaces sha256:1f2abeda71cc4746728a65fce66c7c45a8d8fe8a36752322e15f7288eb1fb9dc (git 20c4d12:src/leadledger/etl/migrations/20261123030000_etl_states.sql)

CREATE SCHEMA etl_api;
COMMENT ON SCHEMA etl_api IS 'The ETL workflow engine: requests, runs, workflows and their states.';
REVOKE ALL ON SCHEMA etl_api FROM PUBLIC;
GRANT USAGE ON SCHEMA etl_api TO leadledger_service;

-- The ten states, once per table as the seed plan names the types.
CREATE TYPE etl_api.activity_request_state AS ENUM
    ('new', 'valid', 'invalid', 'waiting', 'ready', 'in_progress', 'timedout', 'failed', 'done', 'delivered');
CREATE TYPE etl_api.run_queue_state AS ENUM
    ('new', 'valid', 'invalid', 'waiting', 'ready', 'in_progress', 'timedout', 'failed', 'done', 'delivered');
CREATE TYPE etl_api.run_request_state AS ENUM
    ('new', 'valid', 'invalid', 'waiting', 'ready', 'in_progress', 'timedout', 'failed', 'done', 'delivered');
CREATE TYPE etl_api.workflow_request_state AS ENUM
    ('new', 'valid', 'invalid', 'waiting', 'ready', 'in_progress', 'timedout', 'failed', 'done', 'delivered');

CREATE TABLE etl_api.org (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    settings   jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
COMMENT ON TABLE etl_api.org IS 'Organisations that own ETL requests.';

-- A workflow: a multi-phase piece of work (enrichment, extraction, sourcing) an org asked for.
CREATE TABLE etl_api.workflow_request (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id           uuid NOT NULL REFERENCES etl_api.org (id) ON DELETE CASCADE,
    workflow_type    text NOT NULL CHECK (workflow_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    payload          jsonb NOT NULL DEFAULT '{}',
    result           jsonb,
    state            etl_api.workflow_request_state NOT NULL DEFAULT 'new',
    state_substate   text,
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    deadline         timestamptz,
    callback_url     text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);

-- An activity: one unit of a workflow (an enrichment of one record, an extraction of one page).
CREATE TABLE etl_api.activity_request (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id              uuid NOT NULL REFERENCES etl_api.org (id) ON DELETE CASCADE,
    workflow_request_id uuid REFERENCES etl_api.workflow_request (id) ON DELETE CASCADE,
    activity_type       text NOT NULL CHECK (activity_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    payload             jsonb NOT NULL DEFAULT '{}',
    result              jsonb,
    state               etl_api.activity_request_state NOT NULL DEFAULT 'new',
    state_substate      text,
    state_changed_at    timestamptz NOT NULL DEFAULT now(),
    deadline            timestamptz,
    priority            smallint NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at          timestamptz
);

-- The queue of runs the workers take: one row per attempt to run an activity against a source.
CREATE TABLE etl_api.run_queue (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id              uuid NOT NULL REFERENCES etl_api.org (id) ON DELETE CASCADE,
    activity_request_id uuid REFERENCES etl_api.activity_request (id) ON DELETE CASCADE,
    run_type            text NOT NULL CHECK (run_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    payload             jsonb NOT NULL DEFAULT '{}',
    state               etl_api.run_queue_state NOT NULL DEFAULT 'new',
    state_substate      text,
    state_changed_at    timestamptz NOT NULL DEFAULT now(),
    deadline            timestamptz,
    priority            smallint NOT NULL DEFAULT 0,
    attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    locked_by           text,
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- A request sent to a third-party source for a run; its answer comes back by webhook.
CREATE TABLE etl_api.run_request (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id           uuid NOT NULL REFERENCES etl_api.org (id) ON DELETE CASCADE,
    run_queue_id     uuid REFERENCES etl_api.run_queue (id) ON DELETE CASCADE,
    source           text NOT NULL CHECK (source ~ '^[a-z][a-z0-9_]{0,62}$'),
    request_type     text NOT NULL DEFAULT 'fetch' CHECK (request_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    payload          jsonb NOT NULL DEFAULT '{}',
    response         jsonb,
    external_ref     text,
    state            etl_api.run_request_state NOT NULL DEFAULT 'new',
    state_substate   text,
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    deadline         timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz
);

-- Indexes: by org and creation (listing); by state and deadline (mark_timedout and the stuck
-- view scan only in_progress / waiting rows: partial indexes keep that small).
CREATE INDEX workflow_request_org_idx ON etl_api.workflow_request (org_id, created_at);
CREATE INDEX activity_request_org_idx ON etl_api.activity_request (org_id, created_at);
CREATE INDEX activity_request_workflow_idx ON etl_api.activity_request (workflow_request_id);
CREATE INDEX run_queue_org_idx ON etl_api.run_queue (org_id, created_at);
CREATE INDEX run_queue_activity_idx ON etl_api.run_queue (activity_request_id);
CREATE INDEX run_queue_ready_idx ON etl_api.run_queue (priority DESC, created_at) WHERE state = 'ready';
CREATE INDEX run_request_org_idx ON etl_api.run_request (org_id, created_at);
CREATE INDEX run_request_run_queue_idx ON etl_api.run_request (run_queue_id);
CREATE INDEX run_request_external_ref_idx ON etl_api.run_request (source, external_ref) WHERE external_ref IS NOT NULL;
CREATE INDEX workflow_request_active_idx ON etl_api.workflow_request (state_changed_at)
    WHERE state IN ('in_progress', 'waiting');
CREATE INDEX activity_request_active_idx ON etl_api.activity_request (state_changed_at)
    WHERE state IN ('in_progress', 'waiting');
CREATE INDEX run_queue_active_idx ON etl_api.run_queue (state_changed_at) WHERE state IN ('in_progress', 'waiting');
CREATE INDEX run_request_active_idx ON etl_api.run_request (state_changed_at) WHERE state IN ('in_progress', 'waiting');

CREATE TABLE etl_api.state_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name text NOT NULL
               CHECK (table_name IN ('activity_request', 'run_queue', 'run_request', 'workflow_request')),
    row_id     uuid NOT NULL,
    from_state text NOT NULL,
    to_state   text NOT NULL,
    substate   text,
    reason     text,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE etl_api.state_history IS 'Every state transition of every ETL row.';
-- Serves a row's history in order, and transitions per hour.
CREATE INDEX state_history_row_idx ON etl_api.state_history (table_name, row_id, id);
CREATE INDEX state_history_at_idx ON etl_api.state_history (at);

CREATE TABLE etl_api.etl_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    level   text NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error', 'critical')),
    message text NOT NULL,
    context jsonb,
    at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX etl_log_at_idx ON etl_api.etl_log (at);
CREATE INDEX etl_log_problems_idx ON etl_api.etl_log (at) WHERE level IN ('error', 'critical');

REVOKE ALL ON ALL TABLES IN SCHEMA etl_api FROM PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA etl_api TO leadledger_service;
GRANT INSERT ON etl_api.org, etl_api.workflow_request, etl_api.activity_request, etl_api.run_queue,
    etl_api.run_request TO leadledger_service;
