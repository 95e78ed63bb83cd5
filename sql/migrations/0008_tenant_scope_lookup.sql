-- control.tenants_of(role) was SECURITY DEFINER and executable by every role, so a tenant-scoped
-- role could ask for the tenants of any other role (and learn other tenants' ids and the roles
-- that read them). It now runs with the caller's rights over control.tenant_roles, whose own
-- row-level security shows a role only its own rows: a scoped role resolves its own scope and
-- gets nothing for anyone else's. The owner role bypasses RLS as table owner and sees every scope.
-- Nobody but the owner may write control.tenant_roles, so no role can widen its own scope.

ALTER TABLE control.tenant_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_scope ON control.tenant_roles FOR SELECT USING (role_name = current_user);
REVOKE ALL ON control.tenant_roles FROM PUBLIC;
GRANT SELECT ON control.tenant_roles TO PUBLIC;

ALTER FUNCTION control.tenants_of(name) SECURITY INVOKER;
