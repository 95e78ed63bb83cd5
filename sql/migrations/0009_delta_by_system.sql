-- A mirror refresh reads one system's rows of a tenant staged after a given staged_seq (one COPY
-- per side, in parallel). With the index on (tenant_id, staged_seq), each side's read fetched
-- every changed row of both systems from the heap and filtered half of them out; with
-- (tenant_id, system, staged_seq) each side reads only its own rows, and "newest staged_seq of a
-- system" is one backward index step.
--
-- Partial (staged_seq > 0, which every staged row satisfies: the sequence starts at 1), so that
-- only queries that constrain staged_seq can use it. Without the predicate, on a table without
-- statistics (a new tenant's first batches), the planner took its (tenant_id, system) prefix for
-- the write path's per-row primary-key probes (write-changes.ts unstagedSql) and read every staged
-- row of the stream per probe: quadratic (test/staging/probe-plan.test.ts).
CREATE INDEX customer_delta_sys ON staging.customer (tenant_id, system, staged_seq) WHERE staged_seq > 0;
CREATE INDEX product_delta_sys ON staging.product (tenant_id, system, staged_seq) WHERE staged_seq > 0;
CREATE INDEX order_delta_sys ON staging."order" (tenant_id, system, staged_seq) WHERE staged_seq > 0;
CREATE INDEX invoice_delta_sys ON staging.invoice (tenant_id, system, staged_seq) WHERE staged_seq > 0;
CREATE INDEX payment_delta_sys ON staging.payment (tenant_id, system, staged_seq) WHERE staged_seq > 0;
CREATE INDEX subscription_delta_sys ON staging.subscription (tenant_id, system, staged_seq) WHERE staged_seq > 0;
DROP INDEX staging.customer_delta;
DROP INDEX staging.product_delta;
DROP INDEX staging.order_delta;
DROP INDEX staging.invoice_delta;
DROP INDEX staging.payment_delta;
DROP INDEX staging.subscription_delta;
