// Where matching reads records and links: the mirror's tables (crm, erp, xref) or an incremental
// scope's copies of them (scope.ts).

/** Where the records and links come from: the mirror (crm, erp, xref) or a scope's copies. */
export interface MatchSource {
  crm: string;
  erp: string;
  xref: string;
}

export const MIRROR_SOURCE: MatchSource = { crm: 'crm', erp: 'erp', xref: 'xref' };
