// The Salesforce sandbox's composite upsert by external id
// (PATCH composite/sobjects/{SObject}/{ExternalIdField}): at most 200 records, one result per
// record in order, Salesforce's per-record error codes, and allOrNone rollback.
import type { SandboxRequest, SandboxResponse } from '../http/sandbox-server.js';
import { type SalesforceStore, SalesforceWriteError } from './sandbox-store.js';

const err = (status: number, errorCode: string, message: string): SandboxResponse => ({
  status,
  body: [{ message, errorCode }],
});

export function compositeUpsert(
  store: SalesforceStore,
  req: SandboxRequest,
  sobject: string,
  extField: string,
): SandboxResponse {
  const body = req.json<{ allOrNone?: boolean; records?: Record<string, unknown>[] }>();
  const records = body.records ?? [];
  if (records.length > 200)
    return err(400, 'EXCEEDED_ID_LIMIT', 'record count exceeds the limit of 200 records per request');
  const o = store.object(sobject);
  if (!o.fields.includes(extField))
    return err(400, 'INVALID_FIELD', `No such column '${extField}' on ${sobject}`);
  const seen = new Set<string>();
  const plan = records.map((rec) => {
    const {
      attributes,
      [extField]: ext,
      ...rest
    } = rec as { attributes?: { type?: string } } & Record<string, unknown>;
    try {
      if (attributes?.type && attributes.type !== sobject)
        throw new SalesforceWriteError(
          'INVALID_TYPE',
          `attributes.type ${attributes.type} is not ${sobject}`,
        );
      if (typeof ext !== 'string' || !ext)
        throw new SalesforceWriteError(
          'REQUIRED_FIELD_MISSING',
          `Required fields are missing: [${extField}]`,
          [extField],
        );
      if (seen.has(ext))
        throw new SalesforceWriteError(
          'DUPLICATE_VALUE',
          `duplicate value found: ${extField} duplicates value on record with id: ${ext}`,
          [extField],
        );
      seen.add(ext);
      const fields = Object.fromEntries(
        Object.entries(rest).map(([k, v]) => [k, v == null ? '' : String(v)]),
      );
      const known = new Set(o.fields);
      for (const f of Object.keys(fields))
        if (!known.has(f))
          throw new SalesforceWriteError(
            'INVALID_FIELD',
            `No such column '${f}' on sobject of type ${sobject}`,
            [f],
          );
      const id = o.findByExternalId(extField, ext);
      if (!id)
        for (const f of o.seeded.required ?? [])
          if (!fields[f])
            throw new SalesforceWriteError('REQUIRED_FIELD_MISSING', `Required fields are missing: [${f}]`, [
              f,
            ]);
      return { ok: true as const, id, fields: { ...fields, [extField]: ext } };
    } catch (e) {
      if (!(e instanceof SalesforceWriteError)) throw e;
      return { ok: false as const, error: e };
    }
  });
  const failed = plan.some((p) => !p.ok);
  if (body.allOrNone && failed)
    return {
      status: 200,
      body: plan.map((p) => ({
        id: null,
        success: false,
        errors: [
          p.ok
            ? {
                statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
                message:
                  'Record rolled back because not all records were valid and the request was using AllOrNone header',
                fields: [],
              }
            : { statusCode: p.error.errorCode, message: p.error.message, fields: p.error.fields },
        ],
      })),
    };
  return {
    status: 200,
    body: plan.map((p) => {
      if (!p.ok)
        return {
          id: null,
          success: false,
          errors: [{ statusCode: p.error.errorCode, message: p.error.message, fields: p.error.fields }],
        };
      const row = p.id ? store.update(sobject, p.id, p.fields) : store.insert(sobject, p.fields);
      return { id: row.Id, success: true, errors: [], created: !p.id };
    }),
  };
}
