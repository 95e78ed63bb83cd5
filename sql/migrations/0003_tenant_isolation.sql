-- Tenant isolation by row-level security. A database role is scoped to tenants through
-- control.tenant_roles; with RLS forced, such a role sees and writes only its tenants' rows.
-- The trueup owner role (which runs migrations and the pipeline) bypasses RLS as table owner;
-- FORCE is deliberately not set so the pipeline can work across tenants.

CREATE TABLE control.tenant_roles (
  role_name name NOT NULL,
  tenant_id text NOT NULL,
  PRIMARY KEY (role_name, tenant_id)
);

CREATE FUNCTION control.tenants_of(role name) RETURNS text[]
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, control
  AS $$ SELECT coalesce(array_agg(tenant_id), '{}') FROM control.tenant_roles WHERE role_name = role $$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'staging.customer', 'staging.product', 'staging."order"', 'staging.invoice', 'staging.payment',
    'staging.subscription', 'control.tenants', 'control.checkpoints', 'control.dead_letters',
    'control.xref', 'control.runs', 'control.discrepancies', 'control.actions', 'control.audit'
  ] LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_scope ON %s USING (tenant_id = ANY (control.tenants_of(current_user))) '
      'WITH CHECK (tenant_id = ANY (control.tenants_of(current_user)))', t);
  END LOOP;
END $$;
