// The generator keeps its own copy of which fields are references (it sits below the reconcilers
// in the layers): the two must agree, and every reference names a canonical text or json field.
import { expect, it } from 'vitest';
import { REFERENCE_FIELDS } from '../../pipeline/generator/references.js';
import { REFERENCES } from '../../reconcilers/compare/reference-fields.js';
import { ENTITIES, fieldDef } from '../../staging/model/entities.js';

it('the generator and the reconcilers name the same reference fields', () => {
  expect(REFERENCE_FIELDS).toEqual(REFERENCES);
  for (const e of ENTITIES)
    for (const r of REFERENCES[e]) expect(fieldDef(e, r.field)?.type).toBe(r.list ? 'json' : 'text');
});
