-- A change stamp for the reconcilers' local copies of control.xref. Every statement that inserts,
-- updates or deletes links (or truncates the table) gives each tenant × entity it touched a new
-- version from one sequence. Versions never repeat and never go back, so a copy that remembers
-- the version it was made at notices every change, whatever the links' created_at (a count plus
-- the newest created_at missed a back-dated insert and a delete in the same window).
-- The version row is written in the writer's transaction: a reader sees the new version exactly
-- when it can see the changed links.

CREATE SEQUENCE control.xref_version_seq;

CREATE TABLE control.xref_versions (
  tenant_id text NOT NULL,
  entity text NOT NULL,
  version bigint NOT NULL,
  PRIMARY KEY (tenant_id, entity)
);

ALTER TABLE control.xref_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON control.xref_versions
  USING (tenant_id = ANY (control.tenants_of(current_user)))
  WITH CHECK (tenant_id = ANY (control.tenants_of(current_user)));

-- SECURITY DEFINER: a tenant-scoped role that may write links bumps the version without rights
-- on this table. Statement-level with transition tables: one upsert per tenant × entity and
-- statement, not per link.
CREATE FUNCTION control.bump_xref_versions() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, control
  AS $$
BEGIN
  -- plpgsql plans a statement when it first runs it, so each branch names only the transition
  -- tables its event has.
  IF TG_OP = 'TRUNCATE' THEN
    UPDATE control.xref_versions SET version = nextval('control.xref_version_seq');
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO control.xref_versions AS v (tenant_id, entity, version)
    SELECT tenant_id, entity, nextval('control.xref_version_seq')
      FROM (SELECT DISTINCT tenant_id, entity FROM xref_new_rows ORDER BY 1, 2) k
    ON CONFLICT (tenant_id, entity) DO UPDATE SET version = EXCLUDED.version;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO control.xref_versions AS v (tenant_id, entity, version)
    SELECT tenant_id, entity, nextval('control.xref_version_seq')
      FROM (SELECT DISTINCT tenant_id, entity FROM xref_old_rows ORDER BY 1, 2) k
    ON CONFLICT (tenant_id, entity) DO UPDATE SET version = EXCLUDED.version;
  ELSE
    INSERT INTO control.xref_versions AS v (tenant_id, entity, version)
    SELECT tenant_id, entity, nextval('control.xref_version_seq')
      FROM (SELECT tenant_id, entity FROM xref_old_rows
            UNION SELECT tenant_id, entity FROM xref_new_rows ORDER BY 1, 2) k
    ON CONFLICT (tenant_id, entity) DO UPDATE SET version = EXCLUDED.version;
  END IF;
  RETURN NULL;
END $$;

-- Transition tables allow one event per trigger.
CREATE TRIGGER xref_versions_insert AFTER INSERT ON control.xref
  REFERENCING NEW TABLE AS xref_new_rows FOR EACH STATEMENT EXECUTE FUNCTION control.bump_xref_versions();
CREATE TRIGGER xref_versions_update AFTER UPDATE ON control.xref
  REFERENCING OLD TABLE AS xref_old_rows NEW TABLE AS xref_new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION control.bump_xref_versions();
CREATE TRIGGER xref_versions_delete AFTER DELETE ON control.xref
  REFERENCING OLD TABLE AS xref_old_rows FOR EACH STATEMENT EXECUTE FUNCTION control.bump_xref_versions();
CREATE TRIGGER xref_versions_truncate AFTER TRUNCATE ON control.xref
  FOR EACH STATEMENT EXECUTE FUNCTION control.bump_xref_versions();

-- Tenant-scoped roles made before this migration got their grants on the control tables of
-- that time (staging/tenants.ts); let them read the versions too. Later roles get it there.
DO $$
DECLARE
  r name;
BEGIN
  FOR r IN SELECT DISTINCT t.role_name FROM control.tenant_roles t
             JOIN pg_roles p ON p.rolname = t.role_name LOOP
    EXECUTE format('GRANT SELECT ON control.xref_versions TO %I', r);
  END LOOP;
END $$;
