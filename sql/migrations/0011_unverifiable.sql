-- A new discrepancy class, `unverifiable` (issue 12): a record whose counterpart could not be
-- staged (an open dead letter of the other side that links to it) is not `missing_in_*`, and a
-- reference (customer_ref, order_ref, applied_invoices) whose target is not linked yet is not a
-- mismatch: nothing can be said either way, and the finding points at the dead letter or the
-- unlinked record. Never material. The classes are declared once in
-- staging/control/discrepancy-states.ts (a test compares them with this constraint).
--
-- (Written as 0013 while other migrations were pending; numbered 0011 when it landed.)
ALTER TABLE control.discrepancies DROP CONSTRAINT discrepancies_class_check;
ALTER TABLE control.discrepancies ADD CONSTRAINT discrepancies_class_check
  CHECK (class IN ('missing_in_erp', 'missing_in_crm', 'field_mismatch', 'duplicate_match', 'deleted_in_one',
                   'unverifiable'));
