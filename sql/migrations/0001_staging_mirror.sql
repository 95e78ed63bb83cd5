-- Staging mirror: one table per canonical object, keyed by (tenant_id, system, source_id).
-- Every write (insert, update, tombstone) takes a fresh staged_seq from one sequence; writers
-- of one tenant × entity are serialised by an advisory lock, so within a tenant × entity the
-- seq order is the commit order and reconcilers can pull "everything after seq N" safely.

CREATE SCHEMA IF NOT EXISTS staging;

CREATE SEQUENCE staging.staged_seq AS bigint;

CREATE TABLE staging.customer (
  tenant_id text NOT NULL,
  system text NOT NULL,
  source_id text NOT NULL,
  crm_ref text,
  erp_ref text,
  name text,
  legal_name text,
  website text,
  email text,
  phone text,
  billing_street text,
  billing_city text,
  billing_postal_code text,
  billing_country text,
  owner text,
  lifecycle_stage text,
  erp_customer_number text,
  tax_id text,
  currency char(3),
  payment_terms text,
  credit_limit numeric,
  company text,
  ar_balance numeric,
  raw jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL,
  source_updated_at timestamptz,
  deleted_at timestamptz,
  mapping_version integer NOT NULL DEFAULT 1,
  staged_seq bigint NOT NULL,
  staged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, system, source_id)
);

CREATE TABLE staging.product (
  tenant_id text NOT NULL,
  system text NOT NULL,
  source_id text NOT NULL,
  crm_ref text,
  erp_ref text,
  sku text,
  name text,
  type text,
  uom text,
  list_price numeric,
  currency char(3),
  active boolean,
  raw jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL,
  source_updated_at timestamptz,
  deleted_at timestamptz,
  mapping_version integer NOT NULL DEFAULT 1,
  staged_seq bigint NOT NULL,
  staged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, system, source_id)
);

CREATE TABLE staging."order" (
  tenant_id text NOT NULL,
  system text NOT NULL,
  source_id text NOT NULL,
  crm_ref text,
  erp_ref text,
  number text,
  customer_ref text,
  order_date date,
  status text,
  currency char(3),
  amount_untaxed numeric,
  amount_tax numeric,
  amount_total numeric,
  invoice_status text,
  raw jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL,
  source_updated_at timestamptz,
  deleted_at timestamptz,
  mapping_version integer NOT NULL DEFAULT 1,
  staged_seq bigint NOT NULL,
  staged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, system, source_id)
);

CREATE TABLE staging.invoice (
  tenant_id text NOT NULL,
  system text NOT NULL,
  source_id text NOT NULL,
  crm_ref text,
  erp_ref text,
  number text,
  customer_ref text,
  issue_date date,
  due_date date,
  currency char(3),
  total numeric,
  tax numeric,
  balance numeric,
  status text,
  order_ref text,
  raw jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL,
  source_updated_at timestamptz,
  deleted_at timestamptz,
  mapping_version integer NOT NULL DEFAULT 1,
  staged_seq bigint NOT NULL,
  staged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, system, source_id)
);

CREATE TABLE staging.payment (
  tenant_id text NOT NULL,
  system text NOT NULL,
  source_id text NOT NULL,
  crm_ref text,
  erp_ref text,
  number text,
  customer_ref text,
  payment_date date,
  amount numeric,
  currency char(3),
  method text,
  applied_invoices jsonb,
  raw jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL,
  source_updated_at timestamptz,
  deleted_at timestamptz,
  mapping_version integer NOT NULL DEFAULT 1,
  staged_seq bigint NOT NULL,
  staged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, system, source_id)
);

CREATE TABLE staging.subscription (
  tenant_id text NOT NULL,
  system text NOT NULL,
  source_id text NOT NULL,
  crm_ref text,
  erp_ref text,
  customer_ref text,
  status text,
  plan_items jsonb,
  currency char(3),
  current_period_start date,
  current_period_end date,
  mrr numeric,
  raw jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL,
  source_updated_at timestamptz,
  deleted_at timestamptz,
  mapping_version integer NOT NULL DEFAULT 1,
  staged_seq bigint NOT NULL,
  staged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, system, source_id)
);

-- Reconcilers pull deltas by (tenant_id, staged_seq).
CREATE INDEX customer_delta ON staging.customer (tenant_id, staged_seq);
CREATE INDEX product_delta ON staging.product (tenant_id, staged_seq);
CREATE INDEX order_delta ON staging."order" (tenant_id, staged_seq);
CREATE INDEX invoice_delta ON staging.invoice (tenant_id, staged_seq);
CREATE INDEX payment_delta ON staging.payment (tenant_id, staged_seq);
CREATE INDEX subscription_delta ON staging.subscription (tenant_id, staged_seq);
