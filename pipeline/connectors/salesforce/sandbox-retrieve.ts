// The Salesforce sandbox's record retrieval by External ID
// (GET sobjects/{SObject}/{ExternalIdField}/{value}?fields=…): the live record whose External ID
// field holds the value, as JSON with its `attributes`; 404 NOT_FOUND when there is none (a
// deleted record included), a field the object lacks is a 400 INVALID_FIELD. The write-back step
// reads records this way before it writes them (compare-and-set, dry-run).
import type { SandboxRequest, SandboxResponse } from '../http/sandbox-server.js';
import { isExternalIdField, type SalesforceStore } from './sandbox-store.js';

const err = (status: number, errorCode: string, message: string): SandboxResponse => ({
  status,
  body: [{ message, errorCode }],
});

export function retrieveByExternalId(
  store: SalesforceStore,
  req: SandboxRequest,
  p: { version: string; sobject: string; field: string; value: string },
): SandboxResponse {
  const o = store.object(p.sobject);
  if (p.field !== 'Id' && (!o.fields.includes(p.field) || !isExternalIdField(p.field)))
    return err(
      404,
      'NOT_FOUND',
      `Provided external ID field does not exist or is not accessible: ${p.field}`,
    );
  const id = p.field === 'Id' ? p.value : o.findByExternalId(p.field, p.value);
  const row = id ? o.get(id) : undefined;
  if (!row || row.IsDeleted === 'true') return err(404, 'NOT_FOUND', 'The requested resource does not exist');
  const wanted = req.url.searchParams.get('fields')?.split(',').filter(Boolean) ?? [...o.fields];
  const unknown = wanted.find((f) => !o.fields.includes(f));
  if (unknown) return err(400, 'INVALID_FIELD', `No such column '${unknown}' on entity '${p.sobject}'`);
  const body: Record<string, unknown> = {
    attributes: { type: p.sobject, url: `/services/data/${p.version}/sobjects/${p.sobject}/${row.Id}` },
  };
  for (const f of wanted) {
    const v = row[f];
    // JSON as Salesforce sends it: null for an empty value, booleans for the Is… checkboxes.
    body[f] = v === undefined || v === '' ? null : /^Is[A-Z]/.test(f) ? v === 'true' : v;
  }
  return { status: 200, body };
}
