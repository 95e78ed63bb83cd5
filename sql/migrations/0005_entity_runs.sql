-- Carry-forward without rewriting rows. Every reconcile run of a tenant × entity either
-- re-examines an open discrepancy or carries it forward unchanged; instead of updating every
-- carried row on every run, a run is numbered per tenant × entity, a discrepancy remembers the
-- number of the run that last examined it (last_seen_no), and the view discrepancies_now derives
-- what carrying forward would have written: for an open or accepted discrepancy, last seen by the
-- entity's latest run, and open for as many more runs as were made since it was examined.

CREATE TABLE control.entity_runs (
  tenant_id text NOT NULL,
  entity text NOT NULL,
  run_no bigint NOT NULL,
  run_id text NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, entity, run_no)
);

ALTER TABLE control.entity_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON control.entity_runs
  USING (tenant_id = ANY (control.tenants_of(current_user)))
  WITH CHECK (tenant_id = ANY (control.tenants_of(current_user)));

ALTER TABLE control.discrepancies ADD COLUMN last_seen_no bigint NOT NULL DEFAULT 0;

-- security_invoker: a tenant-scoped role reading the view sees only its tenants' rows (RLS of
-- the tables applies to the caller, not to the view's owner).
CREATE VIEW control.discrepancies_now WITH (security_invoker = true) AS
SELECT d.tenant_id, d.id, d.entity, d.match_key, d.class, d.field, d.crm_id, d.erp_id, d.crm_value,
       d.erp_value, d.currency, d.money_impact, d.material, d.status, d.first_seen_run,
       CASE WHEN live THEN r.run_id ELSE d.last_seen_run END AS last_seen_run,
       d.first_seen,
       CASE WHEN live THEN r.at ELSE d.last_seen END AS last_seen,
       CASE WHEN live THEN d.runs_open + (r.run_no - d.last_seen_no)::int ELSE d.runs_open END AS runs_open,
       d.resolved_at, d.accepted_by, d.accepted_reason, d.detail
  FROM control.discrepancies d
  LEFT JOIN LATERAL (
    SELECT e.run_no, e.run_id, e.at FROM control.entity_runs e
     WHERE e.tenant_id = d.tenant_id AND e.entity = d.entity
     ORDER BY e.run_no DESC LIMIT 1) r ON true
  CROSS JOIN LATERAL (
    SELECT d.status IN ('open', 'accepted') AND r.run_no > d.last_seen_no AS live) l;
