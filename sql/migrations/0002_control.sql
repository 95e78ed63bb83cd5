-- Control schema: tenants, checkpoints, dead letters, cross-system links, runs, discrepancies,
-- actions and audit. tenant_id leads every key and nothing references across tenants, so the
-- whole database can be distributed by tenant.

CREATE SCHEMA IF NOT EXISTS control;

CREATE TABLE control.tenants (
  tenant_id text PRIMARY KEY,
  display_name text,
  config_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per source stream: a CDC slot, an API object cursor, a CSV drop folder.
CREATE TABLE control.checkpoints (
  tenant_id text NOT NULL,
  system text NOT NULL,
  stream text NOT NULL,
  position jsonb NOT NULL,
  state text NOT NULL DEFAULT 'ok',
  detail text,
  rows_total bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, system, stream)
);

CREATE TABLE control.dead_letters (
  tenant_id text NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  system text NOT NULL,
  entity text NOT NULL,
  source_id text,
  record jsonb NOT NULL,
  error_kind text NOT NULL,
  error_message text NOT NULL,
  location text,
  -- Same record failing the same way again bumps attempts instead of adding a row.
  fingerprint text NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'replayed', 'discarded')),
  attempts integer NOT NULL DEFAULT 1,
  first_seen timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX dead_letters_open_fingerprint ON control.dead_letters (tenant_id, fingerprint) WHERE status = 'open';

-- Cross-system links between records of one tenant and entity.
CREATE TABLE control.xref (
  tenant_id text NOT NULL,
  entity text NOT NULL,
  crm_system text NOT NULL,
  crm_id text NOT NULL,
  erp_system text NOT NULL,
  erp_id text NOT NULL,
  origin text NOT NULL CHECK (origin IN ('key_match', 'manual')),
  created_by text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, entity, crm_system, crm_id, erp_system, erp_id)
);
CREATE INDEX xref_erp ON control.xref (tenant_id, entity, erp_system, erp_id);

CREATE TABLE control.runs (
  tenant_id text NOT NULL,
  run_id text NOT NULL,
  kind text NOT NULL,
  mode text,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  source_positions jsonb,
  summary jsonb,
  error text,
  output_dir text,
  PRIMARY KEY (tenant_id, run_id)
);

CREATE TABLE control.discrepancies (
  tenant_id text NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  entity text NOT NULL,
  match_key text NOT NULL,
  class text NOT NULL CHECK (class IN ('missing_in_erp', 'missing_in_crm', 'field_mismatch', 'duplicate_match', 'deleted_in_one')),
  field text NOT NULL DEFAULT '',
  crm_id text,
  erp_id text,
  crm_value jsonb,
  erp_value jsonb,
  currency char(3),
  money_impact numeric,
  material boolean NOT NULL DEFAULT false,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'accepted')),
  first_seen_run text NOT NULL,
  last_seen_run text NOT NULL,
  first_seen timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL DEFAULT now(),
  runs_open integer NOT NULL DEFAULT 1,
  resolved_at timestamptz,
  accepted_by text,
  accepted_reason text,
  detail jsonb,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, entity, match_key, class, field)
);

CREATE TABLE control.actions (
  tenant_id text NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  run_id text NOT NULL,
  entity text NOT NULL,
  target_system text NOT NULL,
  target_id text,
  kind text NOT NULL CHECK (kind IN ('upsert', 'create')),
  fields jsonb NOT NULL,
  explanation jsonb NOT NULL,
  observed_version bigint,
  idempotency_key text NOT NULL,
  status text NOT NULL DEFAULT 'proposed'
    CHECK (status IN ('proposed', 'approved', 'rejected', 'applied', 'failed', 'skipped_stale')),
  decided_by text,
  decided_at timestamptz,
  applied_at timestamptz,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, idempotency_key)
);

CREATE TABLE control.audit (
  tenant_id text NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL,
  subject text,
  detail jsonb,
  PRIMARY KEY (tenant_id, id)
);
