// A discrepancy's match key names its records: `C:<crmId>|E:<erpId>` for a matched pair,
// `C:<crmId>` or `E:<erpId>` for a lone or duplicated record.
import type { DiscrepancyClass } from '../../staging/control/discrepancy-states.js';

export const pairKey = (crmId: string, erpId: string) => `C:${crmId}|E:${erpId}`;

/** The match key of a lone or duplicated record. */
export const loneKey = (side: 'crm' | 'erp', id: string) => (side === 'crm' ? `C:${id}` : `E:${id}`);

/** A record found on one side only is missing on the other. */
export const missingClass = (side: 'crm' | 'erp'): DiscrepancyClass =>
  side === 'crm' ? 'missing_in_erp' : 'missing_in_crm';
