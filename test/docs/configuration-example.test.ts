// docs/configuration.md cannot drift from the code: its full example (the ```yaml trueup.yaml
// block) is loaded with the real loader (parseConfigText: YAML, the zod schema with every
// connector's strict system schema, secret references resolved relative to the file), each
// entity's mapping overrides are checked as the connectors check them, every connector kind
// appears, and every key the config's JSON Schema knows is shown in the example. The short
// example README.md keeps (a ```yaml trueup.yaml block too) must load as well.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configJsonSchema, parseConfigText } from '../../pipeline/config/load-config.js';
import { tenantEntityMapping } from '../../pipeline/connectors/map-record.js';
import { connectorKinds } from '../../pipeline/connectors/registry.js';
import type { Entity } from '../../staging/model/entities.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The ```yaml trueup.yaml blocks of a Markdown file. */
function configBlocks(text: string): string[] {
  const blocks: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```yaml\s+trueup\.yaml\s*$/.test(lines[i]!)) continue;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    blocks.push(body.join('\n'));
  }
  return blocks;
}

/** Every property name of every object in a JSON Schema. */
function schemaKeys(schema: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const s of schema) schemaKeys(s, into);
  else if (schema && typeof schema === 'object') {
    const props = (schema as { properties?: Record<string, unknown> }).properties;
    if (props && typeof props === 'object') for (const k of Object.keys(props)) into.add(k);
    for (const v of Object.values(schema)) schemaKeys(v, into);
  }
  return into;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trueup-config-doc-'));
  // The example's ${file:secrets/…} references, relative to the config's folder.
  await mkdir(join(dir, 'secrets'));
  for (const name of ['globex-hubspot-token', 'globex-netsuite-token'])
    await writeFile(join(dir, 'secrets', name), `${name}-value\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Loads a config text as `trueup -c <dir>/trueup.yaml` would, with every ${env:…} it names set. */
function load(text: string) {
  const env = Object.fromEntries([...text.matchAll(/\$\{env:([^}]+)\}/g)].map((m) => [m[1]!, 'x-secret']));
  return parseConfigText(text, join(dir, 'trueup.yaml'), env, dir);
}

describe('docs/configuration.md', () => {
  it('has one full example, which the real loader accepts', async () => {
    const blocks = configBlocks(await readFile(join(ROOT, 'docs', 'configuration.md'), 'utf8'));
    expect(blocks).toHaveLength(1);
    const config = load(blocks[0]!);
    const tenants = Object.values(config.tenants);
    expect(tenants.length).toBeGreaterThan(0);
    // Every connector kind is shown.
    const kinds = new Set(tenants.flatMap((t) => Object.values(t.systems).map((s) => s.kind)));
    expect([...kinds].sort()).toEqual([...connectorKinds()].sort());
    // The tenant-level mapping overrides, as the connectors check them at sync.
    for (const t of tenants)
      for (const [entity, cfg] of Object.entries(t.entities))
        for (const system of Object.keys(cfg?.mapping ?? {}))
          expect(() => tenantEntityMapping(t.entities, entity as Entity, system)).not.toThrow();
  });

  it('shows every key of the config schema', async () => {
    const [example] = configBlocks(await readFile(join(ROOT, 'docs', 'configuration.md'), 'utf8'));
    const shown = (key: string) =>
      new RegExp(`(^|[\\s{,])${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`, 'm');
    const keys = schemaKeys(configJsonSchema());
    // The walk reaches the connectors' system schemas and the entity settings.
    for (const k of ['maxDeadLetterShare', 'softDelete', 'externalIdField', 'oauth1', 'minSnapshotShare'])
      expect(keys.has(k), k).toBe(true);
    const missing = [...keys].filter((k) => !shown(k).test(example!));
    expect(missing, `keys of the config schema not in docs/configuration.md's example`).toEqual([]);
  });

  it("README's short example loads too", async () => {
    const blocks = configBlocks(await readFile(join(ROOT, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks) expect(() => load(b)).not.toThrow();
  });
});
