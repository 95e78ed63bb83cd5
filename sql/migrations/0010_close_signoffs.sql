-- Month-end close. control.close_signoffs records who signed a tenant's period off, when, against
-- which reconcile run, and which discrepancies of the period were live then: a later report of
-- the period shows the sign-off and everything that appeared after it. control.period_reports
-- records each close pack made (one per tenant, period and run, replaced when rebuilt) with what it
-- showed of every discrepancy, so the next pack of the period shows what changed since.
-- Every sign-off (and every refused attempt) is also written to control.audit.

CREATE TABLE control.close_signoffs (
  tenant_id text NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  period text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  signed_by text NOT NULL CHECK (btrim(signed_by) <> ''),
  signed_at timestamptz NOT NULL DEFAULT now(),
  -- The tenant's latest reconcile run when it was signed: what finance saw.
  run_id text NOT NULL,
  note text,
  -- The period's live (open or accepted) discrepancies at the sign-off.
  discrepancy_ids bigint[] NOT NULL DEFAULT '{}',
  totals jsonb NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX close_signoffs_period ON control.close_signoffs (tenant_id, period, signed_at);

CREATE TABLE control.period_reports (
  tenant_id text NOT NULL,
  period text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  run_id text NOT NULL,
  -- When the run started: packs of a period are ordered by their runs, not by when they were made.
  run_started_at timestamptz NOT NULL,
  made_at timestamptz NOT NULL DEFAULT now(),
  -- Discrepancy id → [status, money impact, material, hash of the two values] as the pack showed it.
  shown jsonb NOT NULL,
  PRIMARY KEY (tenant_id, period, run_id)
);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['control.close_signoffs', 'control.period_reports'] LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_scope ON %s USING (tenant_id = ANY (control.tenants_of(current_user))) '
      'WITH CHECK (tenant_id = ANY (control.tenants_of(current_user)))', t);
  END LOOP;
END $$;
