-- Replaces the mirror's copy of the tenant's xref links (reconcilers/mirror/mirror-xref.ts) by the
-- links just read from control.xref (xref_new), inside the job's DuckDB transaction. The links
-- that appeared or vanished go to xref_changed, where they seed an incremental scope.
INSERT INTO xref_changed (SELECT * FROM xref_new EXCEPT SELECT crm_id, erp_id FROM xref)
  UNION ALL (SELECT crm_id, erp_id FROM xref EXCEPT SELECT * FROM xref_new);
DELETE FROM xref;
INSERT INTO xref SELECT crm_id, erp_id, {{t_crm}}, {{t_erp}} FROM xref_new;
