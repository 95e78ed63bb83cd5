-- A mirror refresh reads one system's rows of a tenant staged after a given staged_seq (one COPY
-- per side, in parallel). With the index on (tenant_id, staged_seq), each side's read visited
-- every changed row of both systems and filtered half of them out: twice the heap reads of what
-- it returns. (tenant_id, system, staged_seq) reads only its own side's rows, and still answers
-- "newest staged_seq of these systems" with one backward step per system.
CREATE INDEX customer_delta_sys ON staging.customer (tenant_id, system, staged_seq);
CREATE INDEX product_delta_sys ON staging.product (tenant_id, system, staged_seq);
CREATE INDEX order_delta_sys ON staging."order" (tenant_id, system, staged_seq);
CREATE INDEX invoice_delta_sys ON staging.invoice (tenant_id, system, staged_seq);
CREATE INDEX payment_delta_sys ON staging.payment (tenant_id, system, staged_seq);
CREATE INDEX subscription_delta_sys ON staging.subscription (tenant_id, system, staged_seq);
DROP INDEX staging.customer_delta;
DROP INDEX staging.product_delta;
DROP INDEX staging.order_delta;
DROP INDEX staging.invoice_delta;
DROP INDEX staging.payment_delta;
DROP INDEX staging.subscription_delta;
