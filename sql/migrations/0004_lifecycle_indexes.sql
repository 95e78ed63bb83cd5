-- Every reconcile run touches the open discrepancies and the undecided actions of one tenant ×
-- entity (carried forward, resolved, examined), while resolved discrepancies and decided actions
-- pile up as history. Partial indexes find the live rows without scanning the history, and free
-- space on each page of control.discrepancies lets the per-run update of last_seen_run and
-- runs_open be a heap-only (HOT) update: no index entry is rewritten for a carried-forward row.

CREATE INDEX discrepancies_live ON control.discrepancies (tenant_id, entity)
  WHERE status IN ('open', 'accepted');

CREATE INDEX actions_undecided ON control.actions (tenant_id, entity)
  WHERE status IN ('proposed', 'approved');

ALTER TABLE control.discrepancies SET (fillfactor = 60);
