// The `associations` key of a HubSpot system: only reference fields, only object types of the
// referenced entity, errors naming the config path; the connector's own list of associable
// references equals the reconcilers' (which it may not import); the writer refuses a reference
// read from an association; the v4 answer check and the primary/lowest-id pick.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../../pipeline/config/load-config.js';
import {
  ASSOCIABLE_REFERENCES,
  HUBSPOT_OBJECT_TYPES,
  hubspotSystemConfig,
} from '../../../pipeline/connectors/hubspot/config.js';
import {
  associationPage,
  pickAssociated,
} from '../../../pipeline/connectors/hubspot/hubspot-associations.js';
import { hubspotRecordChange } from '../../../pipeline/connectors/hubspot/hubspot-extractor.js';
import { hubspotEntity, hubspotObjectMapping } from '../../../pipeline/connectors/hubspot/hubspot-mapping.js';
import { HubspotSandbox } from '../../../pipeline/connectors/hubspot/hubspot-sandbox.js';
import { openWriter } from '../../../pipeline/connectors/open-writer.js';
import { REFERENCES } from '../../../reconcilers/compare/reference-fields.js';
import { ENTITIES } from '../../../staging/model/entities.js';
import { useTestDatabase } from '../../support/database.js';
import { FAST_BACKOFF, hubspotConfig, quietLogger } from '../../support/hubspot.js';

const t = useTestDatabase('hubspot_assoc_cfg');

function problems(associations: string): string[] {
  const text = `tenants:
  acme:
    systems:
      crm:
        kind: hubspot
        role: crm
        accessToken: \${env:HS_TOKEN}
        associations: ${associations}
`;
  try {
    parseConfigText(text, 'trueup.yaml', { HS_TOKEN: 'x' });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('HubSpot associations config', () => {
  it('takes reference fields mapped to an object type of the referenced entity', () => {
    const cfg = hubspotSystemConfig.parse({
      kind: 'hubspot',
      role: 'crm',
      accessToken: '${env:HS_TOKEN}',
      associations: { deals: { customer_ref: 'companies' }, invoices: { order_ref: 'deals' } },
    });
    expect(cfg.associations).toEqual({
      deals: { customer_ref: 'companies' },
      invoices: { order_ref: 'deals' },
    });
    expect(
      hubspotSystemConfig.parse({ kind: 'hubspot', role: 'crm', accessToken: '${env:HS_TOKEN}' })
        .associations,
    ).toEqual({});
  });

  it('names the config path of an unknown object type, a field that is no reference, or a wrong target', () => {
    const one = (yaml: string) => problems(yaml).join('\n');
    expect(one('{ deals: { tax_id: companies, customer_ref: deals } }')).toMatch(
      /associations\.deals\.tax_id: tax_id is not a reference field of order that an association can fill \(customer_ref\)/,
    );
    expect(one('{ deals: { customer_ref: deals } }')).toMatch(
      /associations\.deals\.customer_ref: customer_ref refers to a customer, but HubSpot deals are order records/,
    );
    expect(one('{ products: { customer_ref: companies } }')).toMatch(
      /associations\.products\.customer_ref: .*product has none/,
    );
    expect(one('{ bogus: { customer_ref: companies } }')).toMatch(/associations: unknown key "bogus"/);
    expect(one('{ invoices: { order_ref: tickets } }')).toMatch(
      /associations\.invoices\.order_ref: Invalid option/,
    );
    expect(one('{ invoices: { customer_ref: contacts, order_ref: deals } }')).toBe('');
  });

  it('knows exactly the single-valued references of the reconcilers', () => {
    for (const entity of ENTITIES) {
      const expected = Object.fromEntries(
        REFERENCES[entity].filter((r) => !r.list).map((r) => [r.field, r.target]),
      );
      const served = HUBSPOT_OBJECT_TYPES.some((o) => hubspotEntity(o) === entity);
      if (served) expect(ASSOCIABLE_REFERENCES[entity] ?? {}).toEqual(expected);
    }
  });
});

describe('HubSpot records with associated references', () => {
  const config = hubspotSystemConfig.parse({
    kind: 'hubspot',
    role: 'crm',
    accessToken: '${env:HS_TOKEN}',
    // A property mapping of the same field loses to the association.
    mapping: { deals: { fields: { customer_ref: 'company_id' } } },
    associations: { deals: { customer_ref: 'companies' } },
  }) as never;
  const m = hubspotObjectMapping('deals', config);
  const record = { id: '7', properties: { dealname: 'SO-7', company_id: 'X' } };

  it('maps the reference from associatedRefs, a null as null, and never from the property', () => {
    expect(m.mapping.fields.customer_ref).toBeUndefined();
    const one = hubspotRecordChange(m, 'crm', { ...record, associatedRefs: { customer_ref: '55' } }, 1);
    expect(one.fields).toMatchObject({ customer_ref: '55', crm_ref: '7', number: 'SO-7' });
    const none = hubspotRecordChange(m, 'crm', { ...record, associatedRefs: { customer_ref: null } }, 1);
    expect(none.fields?.customer_ref).toBeNull();
  });

  it('a record stored without its associations (remap of an older read) fails, asking for a re-read', () => {
    expect(() => hubspotRecordChange(m, 'crm', record, 1)).toThrow(
      /read without its companies associations \(customer_ref\): re-read it with `trueup backfill --ids`/,
    );
  });
});

describe('HubSpot association answers', () => {
  it('takes the primary company, else the lowest id, none → null', () => {
    const to = (id: string | number, ...typeIds: number[]) => ({
      toObjectId: id,
      associationTypes: typeIds.map((typeId) => ({ category: 'HUBSPOT_DEFINED', typeId })),
    });
    expect(pickAssociated('deals', 'companies', [to('9', 341), to('12', 5, 341)])).toBe('12');
    expect(pickAssociated('deals', 'companies', [to('12', 341), to(9, 341)])).toBe('9');
    // invoice → company has no primary type: the lowest id, numerically.
    expect(pickAssociated('invoices', 'companies', [to('100', 179), to('99', 179)])).toBe('99');
    expect(pickAssociated('deals', 'companies', [])).toBeNull();
  });

  it('an answer must account for every id asked; only NO_ASSOCIATIONS_FOUND means none', () => {
    const noAssoc = (id: string) => ({
      status: 'error',
      category: 'OBJECT_NOT_FOUND',
      subCategory: 'crm.associations.NO_ASSOCIATIONS_FOUND',
      context: { fromObjectId: [id] },
    });
    const ok = { results: [{ from: { id: '1' }, to: [{ toObjectId: '5', associationTypes: [] }] }] };
    expect(associationPage(['1']).safeParse(ok).success).toBe(true);
    expect(associationPage(['1', '2']).safeParse({ ...ok, errors: [noAssoc('2')] }).success).toBe(true);
    expect(associationPage(['1', '2']).safeParse(ok).success).toBe(false);
    expect(associationPage(['1']).safeParse({ status: 'error', message: 'x' }).success).toBe(false);
    const other = { ...noAssoc('2'), subCategory: 'crm.associations.SOMETHING_ELSE' };
    expect(associationPage(['1', '2']).safeParse({ ...ok, errors: [other] }).success).toBe(false);
  });

  it('the sandbox caps a batch read at 1,000 inputs and pages one record’s associations', async () => {
    const sb = new HubspotSandbox({
      records: {
        companies: [
          { id: '1', properties: {} },
          { id: '2', properties: {} },
          { id: '3', properties: {} },
        ],
        deals: [
          { id: '9', properties: {}, associations: { companies: ['3', '1', { id: '2', primary: true }] } },
        ],
      },
      associationPageSize: 2,
    });
    const over = sb.associations.batchRead('deals', 'companies', {
      inputs: Array.from({ length: 1001 }, (_, i) => ({ id: String(i) })),
    });
    expect(over.status).toBe(400);
    const first = sb.associations.batchRead('deals', 'companies', { inputs: [{ id: '9' }, { id: '404' }] });
    expect(first.status).toBe(207);
    const body = first.body as {
      results: { to: { toObjectId: string }[]; paging?: { next: { after: string } } }[];
    };
    expect(body.results[0]!.to.map((x) => x.toObjectId)).toEqual(['1', '2']);
    const after = body.results[0]!.paging!.next.after;
    const second = sb.associations.batchRead('deals', 'companies', { inputs: [{ id: '9', after }] });
    expect((second.body as typeof body).results[0]!.to.map((x) => x.toObjectId)).toEqual(['3']);
  });
});

describe('HubSpot writer and associated references', () => {
  it('refuses to write a reference read from an association, naming why', () => {
    const config = hubspotConfig('http://127.0.0.1:9', {
      associations: { deals: { customer_ref: 'companies' } },
    });
    const writer = openWriter({ staging: t.staging, logger: quietLogger() }, 'acme', 'crm', config, {
      limits: FAST_BACKOFF,
    });
    try {
      expect(writer.unwritable?.('order', ['customer_ref', 'amount_total'])).toEqual([
        {
          field: 'customer_ref',
          reason: expect.stringMatching(/deals → companies association, which trueup does not write/),
        },
      ]);
    } finally {
      void writer.close?.();
    }
  });
});
