-- Tenant scope enforced by Postgres (docs/security.md). The pipeline connects as the owner role
-- (often the cluster superuser, which bypasses row-level security even when it is forced), so
-- every tenant-scoped unit of work switches, inside its transaction, to the non-login role
-- trueup_tenant (SET LOCAL ROLE) with the GUC trueup.tenant set to its tenant: the policies below
-- then admit only that tenant's rows, whatever filters the queries forget.
--
-- * trueup_tenant: NOLOGIN, not a superuser, no BYPASSRLS; the owner may SET ROLE to it.
-- * Row security is enabled and FORCED on every table of staging and control, so a non-superuser
--   owner is subject to it too; the owner keeps cross-tenant access through an explicit
--   owner_all policy (migrations, --all-tenants, overview reports run unscoped, as the owner).
-- * trueup_tenant may read and write its tenant's staging and control rows, except: it cannot
--   write control.checkpoints (checkpoints go through control.save_scoped_checkpoint, which
--   writes only for current_setting('trueup.tenant')), cannot UPDATE/DELETE control.audit,
--   cannot write control.tenants, and has nothing on control.tenant_roles or trueup_meta.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trueup_tenant') THEN
    BEGIN
      CREATE ROLE trueup_tenant NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another database of the cluster migrated at the same moment (roles are cluster-wide)
    END;
  END IF;
  -- The owner must be allowed to SET ROLE trueup_tenant (a superuser always is).
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT trueup_tenant TO %I', current_user);
  END IF;
END $$;

GRANT USAGE ON SCHEMA staging, control TO trueup_tenant;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA staging TO trueup_tenant;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA control TO trueup_tenant;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA staging, control TO trueup_tenant;
REVOKE ALL ON control.tenant_roles FROM trueup_tenant;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON control.checkpoints FROM trueup_tenant;
REVOKE UPDATE, DELETE, TRUNCATE ON control.audit FROM trueup_tenant;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON control.tenants FROM trueup_tenant;
-- Tables of later migrations reach the role too (their migration must still FORCE row security:
-- test/security/tenant-scope.test.ts checks every table).
ALTER DEFAULT PRIVILEGES IN SCHEMA staging, control GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO trueup_tenant;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging, control GRANT USAGE ON SEQUENCES TO trueup_tenant;

DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.oid::regclass AS rel,
           EXISTS (SELECT 1 FROM pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('staging', 'control') AND c.relkind IN ('r', 'p')
  LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.rel);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t.rel);
    EXECUTE format('CREATE POLICY owner_all ON %s TO %I USING (true) WITH CHECK (true)', t.rel, current_user);
    IF t.has_tenant THEN
      EXECUTE format(
        'CREATE POLICY tenant_guc ON %s TO trueup_tenant '
        'USING (tenant_id = current_setting(''trueup.tenant'', true)) '
        'WITH CHECK (tenant_id = current_setting(''trueup.tenant'', true))', t.rel);
    END IF;
  END LOOP;
END $$;

-- The one way a tenant scope writes a checkpoint: for its own tenant only (taken from the scope,
-- not from an argument), with the key and position shapes checked.
CREATE FUNCTION control.save_scoped_checkpoint(p_system text, p_stream text, p_position jsonb, p_rows bigint)
  RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, control
AS $$
DECLARE
  t text := current_setting('trueup.tenant', true);
BEGIN
  IF t IS NULL OR t !~ '^[a-z0-9][a-z0-9_-]{0,62}$' THEN
    RAISE EXCEPTION 'save_scoped_checkpoint: no valid tenant scope (trueup.tenant = %)', coalesce(t, 'unset')
      USING ERRCODE = '42501';
  END IF;
  IF p_system IS NULL OR p_system = '' OR length(p_system) > 200
     OR p_stream IS NULL OR p_stream = '' OR length(p_stream) > 500 THEN
    RAISE EXCEPTION 'save_scoped_checkpoint: invalid system or stream name' USING ERRCODE = '22023';
  END IF;
  IF p_position IS NULL OR pg_column_size(p_position) > 1048576 OR p_rows IS NULL OR p_rows < 0 THEN
    RAISE EXCEPTION 'save_scoped_checkpoint: invalid position or row count' USING ERRCODE = '22023';
  END IF;
  INSERT INTO control.checkpoints AS c (tenant_id, system, stream, position, rows_total)
  VALUES (t, p_system, p_stream, p_position, p_rows)
  ON CONFLICT (tenant_id, system, stream) DO UPDATE SET
    position = EXCLUDED.position, rows_total = c.rows_total + EXCLUDED.rows_total,
    state = 'ok', detail = NULL, updated_at = now();
END $$;
REVOKE ALL ON FUNCTION control.save_scoped_checkpoint(text, text, jsonb, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION control.save_scoped_checkpoint(text, text, jsonb, bigint) TO trueup_tenant;

-- The one way a tenant scope records a stream's state (paused, failed, needs_resnapshot…) without
-- moving its position: for its own tenant only, like save_scoped_checkpoint.
CREATE FUNCTION control.set_scoped_stream_state(p_system text, p_stream text, p_state text, p_detail text)
  RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, control
AS $$
DECLARE
  t text := current_setting('trueup.tenant', true);
BEGIN
  IF t IS NULL OR t !~ '^[a-z0-9][a-z0-9_-]{0,62}$' THEN
    RAISE EXCEPTION 'set_scoped_stream_state: no valid tenant scope (trueup.tenant = %)', coalesce(t, 'unset')
      USING ERRCODE = '42501';
  END IF;
  IF p_system IS NULL OR p_system = '' OR length(p_system) > 200
     OR p_stream IS NULL OR p_stream = '' OR length(p_stream) > 500
     OR p_state IS NULL OR p_state !~ '^[a-z_]{1,40}$' OR length(coalesce(p_detail, '')) > 100000 THEN
    RAISE EXCEPTION 'set_scoped_stream_state: invalid system, stream, state or detail' USING ERRCODE = '22023';
  END IF;
  INSERT INTO control.checkpoints AS c (tenant_id, system, stream, position, state, detail)
  VALUES (t, p_system, p_stream, 'null', p_state, p_detail)
  ON CONFLICT (tenant_id, system, stream) DO UPDATE SET
    state = EXCLUDED.state, detail = EXCLUDED.detail, updated_at = now();
END $$;
REVOKE ALL ON FUNCTION control.set_scoped_stream_state(text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION control.set_scoped_stream_state(text, text, text, text) TO trueup_tenant;
