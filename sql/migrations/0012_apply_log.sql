-- Write-back (docs/apply.md). control.apply_log holds one row per action per attempt to write it:
-- committed `writing` before the write reaches the target system, and finished (written, failed,
-- stale, abandoned) in the transaction that marks the action applied or failed. A row still
-- `writing` after a crash says "this may have been written": the next apply reads the target to
-- decide, and never writes it a second time. `batch` numbers one write call (the Postgres writer
-- commits it as its replication origin position, so the source itself says whether it committed).

CREATE SEQUENCE control.apply_batches AS bigint;

CREATE TABLE control.apply_log (
  tenant_id text NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  batch bigint NOT NULL,
  action_id bigint NOT NULL,
  idempotency_key text NOT NULL,
  target_system text NOT NULL,
  entity text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('upsert', 'create')),
  -- The external id the write is keyed by, and the target's own id of the record (null: a create).
  target_key text NOT NULL,
  target_id text,
  observed_version bigint,
  -- The values written, and the target's values read just before.
  fields jsonb NOT NULL,
  before jsonb,
  state text NOT NULL DEFAULT 'writing'
    CHECK (state IN ('writing', 'written', 'failed', 'stale', 'abandoned')),
  -- The writer's answer (id, created, error) or how a crash was resolved.
  result jsonb,
  -- The target's version right after the write: its echo in the next extract.
  echo_version bigint,
  applied_by text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  PRIMARY KEY (tenant_id, id)
);
-- At most one attempt of an action is in flight.
CREATE UNIQUE INDEX apply_log_in_flight ON control.apply_log (tenant_id, action_id) WHERE state = 'writing';
CREATE INDEX apply_log_action ON control.apply_log (tenant_id, action_id);
CREATE INDEX apply_log_record ON control.apply_log (tenant_id, target_system, entity, target_key);

ALTER TABLE control.apply_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON control.apply_log USING (tenant_id = ANY (control.tenants_of(current_user)))
  WITH CHECK (tenant_id = ANY (control.tenants_of(current_user)));
