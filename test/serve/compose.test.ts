// docker-compose.yml cannot run here (no Docker): it is read as YAML and checked for what the
// issue asks — `trueup serve` beside a Postgres with wal_level=logical, the config mounted, a
// healthcheck on /healthz — and for what makes it work: a token for the non-loopback address,
// migrations before serve, a stop grace period longer than serve's own stop.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { serveConfigSchema } from '../../pipeline/serve/serve-config.js';
import { packageRoot } from '../../staging/package-root.js';

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  secrets?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval?: string };
  stop_grace_period?: string;
  profiles?: string[];
}

it('runs trueup serve beside a Postgres with logical replication, with a healthcheck on /healthz', async () => {
  const doc = parse(await readFile(join(packageRoot(), 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, Service>;
    secrets: Record<string, { file: string }>;
    volumes: Record<string, unknown>;
  };
  const db = doc.services['staging-db']!;
  const trueup = doc.services.trueup!;

  // Postgres with wal_level=logical.
  const args = db.command!.join(' ');
  expect(args).toMatch(/(^|\s)-c wal_level=logical(\s|$)/);
  expect(db.image).toMatch(/^postgres:\d+/);
  expect(db.healthcheck?.test.join(' ')).toContain('pg_isready');

  // serve, started by `docker compose up` (no profile), after the database is healthy.
  expect(trueup.profiles).toBeUndefined();
  expect(trueup.command?.[0]).toBe('serve');
  expect(trueup.depends_on?.['staging-db']).toEqual({ condition: 'service_healthy' });
  // Reachable through the published port: listens on all addresses, so it needs the token secret.
  const host = trueup.command![trueup.command!.indexOf('--host') + 1];
  const port = trueup.command![trueup.command!.indexOf('--port') + 1];
  expect(host).toBe('0.0.0.0');
  expect(trueup.ports).toContain(`127.0.0.1:${port}:${port}`);
  expect(trueup.secrets).toContain('serve_token');
  expect(doc.secrets.serve_token?.file).toBeTruthy();
  // The config is mounted where TRUEUP_CONFIG points.
  const configPath = trueup.environment?.TRUEUP_CONFIG;
  expect(trueup.volumes?.some((v) => v.split(':')[1] === configPath)).toBe(true);
  expect(trueup.environment?.TRUEUP_DATABASE_URL).toContain('@staging-db:5432/');
  // Migrations first, then the command (`$$` is compose's escape for a literal `$`).
  expect(trueup.entrypoint?.join(' ')).toContain(
    'bin.js migrate && exec node dist/pipeline/cli/bin.js "$$@"',
  );

  // The healthcheck asks /healthz on serve's port (node's fetch: the image has no curl).
  const check = trueup.healthcheck!.test;
  expect(check[0]).toBe('CMD');
  expect(check.join(' ')).toContain(`http://127.0.0.1:${port}/healthz`);
  // Longer than serve's own stop (shutdownSeconds, at most 25 s, inside the CLI's 30 s limit).
  const grace = Number(/^(\d+)s$/.exec(trueup.stop_grace_period ?? '')?.[1]);
  expect(grace).toBeGreaterThan(30);
  expect(serveConfigSchema.parse({}).shutdownSeconds).toBeLessThan(30);
});
