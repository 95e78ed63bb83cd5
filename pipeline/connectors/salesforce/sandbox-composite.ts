// The Salesforce sandbox's composite upsert by external id
// (PATCH composite/sobjects/{SObject}/{ExternalIdField}) and describe (WIRE.md "Composite
// upsert"): a request that is not well formed — over 200 records, a record without its
// `attributes.type`, a field the object does not have, a key field that is not an External ID —
// is one 400 for the whole call and writes nothing; a well-formed one gets one result per record
// in order, Salesforce's per-record error codes, and allOrNone rollback.
import type { SandboxRequest, SandboxResponse } from '../http/sandbox-server.js';
import { isExternalIdField, type SalesforceStore, SalesforceWriteError } from './sandbox-store.js';

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
  if (!isExternalIdField(extField))
    return err(
      400,
      'INVALID_FIELD',
      `Field name provided, ${extField} is not an External ID or indexed field for ${sobject}`,
    );
  const known = new Set(o.fields);
  for (const rec of records) {
    const { attributes, ...rest } = (rec ?? {}) as { attributes?: { type?: string } } & Record<
      string,
      unknown
    >;
    if (!attributes?.type)
      return err(400, 'INVALID_FIELD', 'Each record needs an attributes map with its type');
    const unknown = Object.keys(rest).find((f) => !known.has(f));
    if (unknown)
      return err(400, 'INVALID_FIELD', `No such column '${unknown}' on sobject of type ${sobject}`);
  }
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
      store.apiWrites.set(row.Id!, (store.apiWrites.get(row.Id!) ?? 0) + 1);
      return { id: row.Id, success: true, errors: [], created: !p.id };
    }),
  };
}

/** GET /sobjects/{SObject}/describe: the object's fields, which of them are External IDs. */
export function describe(store: SalesforceStore, sobject: string): Record<string, unknown> {
  const o = store.object(sobject);
  return {
    name: sobject,
    custom: sobject.endsWith('__c'),
    fields: o.fields.map((name) => ({
      name,
      type:
        name === 'Id'
          ? 'id'
          : /Date$|Modstamp$/.test(name)
            ? 'datetime'
            : /^Is[A-Z]/.test(name)
              ? 'boolean'
              : 'string',
      externalId: isExternalIdField(name),
      idLookup: name === 'Id' || isExternalIdField(name),
      unique: isExternalIdField(name),
      custom: name.endsWith('__c'),
    })),
  };
}
