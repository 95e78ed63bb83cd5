// Loads trueup.yaml: read → parse YAML (errors with line and column) → validate with zod (every
// problem with its path) → resolve secret references → deep-freeze. Everything below the CLI
// receives the frozen object; nothing else reads the file or process.env.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { TrueupError } from '../../staging/model/errors.js';
import { COMPARATOR_TYPES, SURVIVORSHIP_RULES } from '../../staging/model/tenant-config.js';
import { connectorKinds } from '../connectors/registry.js';
import { configSchema, type TrueupConfig } from './schema.js';
import { resolveRefs, SecretResolutionError } from './secrets.js';

export class ConfigError extends TrueupError {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      { subject: { file } },
    );
  }
}

export interface LoadedConfig {
  file: string | null;
  config: Readonly<TrueupConfig>;
}

/** Which file: --config, else TRUEUP_CONFIG, else ./trueup.yaml if present, else none (embedded defaults). */
export function configPath(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  return flag ?? env.TRUEUP_CONFIG ?? undefined;
}

export async function loadConfigFile(
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<LoadedConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  return { file: path, config: parseConfigText(text, path, env, dirname(path)) };
}

/**
 * `baseDir`: the folder relative paths in the config (dataDir, staging.embedded.dataDir, a CSV
 * system's dropDir) are resolved against — the config file's own folder, so a config means the
 * same files whatever the working directory of the command (a scheduler's is rarely the repo).
 */
export function parseConfigText(
  text: string,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  baseDir?: string,
): Readonly<TrueupConfig> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return `line ${pos.line}, column ${pos.col}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const raw = doc.contents === null ? {} : doc.toJS();
  if (doc.contents !== null && !isMap(doc.contents))
    throw new ConfigError(file, ['the top level must be a mapping (staging:, tenants:, …)']);
  return validateConfig(raw, file, env, (path) => yamlLine(doc, lineCounter, path), baseDir);
}

/**
 * The line of the key at `path` (of the list item, for an index). A path that goes on past what
 * the file holds — a missing required key — gives the line of the deepest key that exists, so
 * every problem has a line.
 */
function yamlLine(doc: Document, lines: LineCounter, path: readonly (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let at: { range?: readonly number[] | null } | undefined = node as typeof at;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
      if (!pair) break;
      at = (pair.key as typeof at) ?? at;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (item === undefined) break;
      at = item as typeof at;
      node = item;
    } else break;
  }
  const start = at?.range?.[0];
  return start === undefined ? undefined : lines.linePos(start).line;
}

export function validateConfig(
  raw: unknown,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  lineOf: (path: (string | number)[]) => number | undefined = () => undefined,
  baseDir?: string,
): Readonly<TrueupConfig> {
  const parsed = configSchema().safeParse(raw);
  if (!parsed.success) throw new ConfigError(file, formatIssues(parsed.error, lineOf));
  const problems: string[] = [];
  const resolved = resolveAll(
    parsed.data as TrueupConfig,
    [],
    env,
    problems,
    lineOf,
    baseDir,
    (parsed.data as TrueupConfig).secrets?.allowedDirs ?? [],
  ) as TrueupConfig;
  if (problems.length) throw new ConfigError(file, problems);
  return deepFreeze(baseDir === undefined ? resolved : resolvePaths(resolved, baseDir));
}

/** The config's folder paths made absolute against `baseDir` (see parseConfigText). */
function resolvePaths(config: TrueupConfig, baseDir: string): TrueupConfig {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const embedded = config.staging.embedded;
  return {
    ...config,
    ...(config.dataDir === undefined ? {} : { dataDir: abs(config.dataDir) }),
    staging: {
      ...config.staging,
      embedded: {
        ...embedded,
        ...(embedded.dataDir === undefined ? {} : { dataDir: abs(embedded.dataDir) }),
      },
    },
    tenants: Object.fromEntries(
      Object.entries(config.tenants).map(([id, t]) => [
        id,
        {
          ...t,
          systems: Object.fromEntries(
            Object.entries(t.systems).map(([name, s]) => [
              name,
              'dropDir' in s && typeof s.dropDir === 'string' ? { ...s, dropDir: abs(s.dropDir) } : s,
            ]),
          ),
        },
      ]),
    ),
  };
}

export function formatIssues(
  error: z.ZodError,
  lineOf: (path: (string | number)[]) => number | undefined = () => undefined,
): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String);
    let message = issue.message;
    if (issue.code === 'invalid_union' && 'discriminator' in issue) {
      const key = String(issue.discriminator);
      message = `unknown ${key}; expected one of: ${(DISCRIMINATOR_CHOICES[key]?.() ?? []).join(', ')}`;
    }
    if (issue.code === 'invalid_key') message = issue.issues.map((i) => i.message).join('; ');
    if (issue.code === 'unrecognized_keys')
      message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    // An unknown key is pointed at where it is written, not at the mapping that holds it.
    const keyPath =
      issue.code === 'unrecognized_keys' && issue.keys.length ? [...issue.path, issue.keys[0]!] : issue.path;
    const line = lineOf(keyPath as (string | number)[]);
    const where = path.length ? path.join('.') : '(top level)';
    return `${where}: ${message}${line ? ` (line ${line})` : ''}`;
  });
}

/** The choices of each discriminated union in the schema, for messages that list them. */
const DISCRIMINATOR_CHOICES: Record<string, () => readonly string[]> = {
  kind: connectorKinds,
  rule: () => SURVIVORSHIP_RULES,
  type: () => COMPARATOR_TYPES,
};

function resolveAll(
  value: unknown,
  path: string[],
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
  lineOf: (path: (string | number)[]) => number | undefined,
  baseDir?: string,
  allowedDirs: readonly string[] = [],
): unknown {
  if (typeof value === 'string') {
    try {
      return resolveRefs(value, path.join('.'), env, baseDir, allowedDirs);
    } catch (err) {
      if (!(err instanceof SecretResolutionError)) throw err;
      const line = lineOf(path);
      problems.push(`${err.message}${line ? ` (line ${line})` : ''}`);
      return value;
    }
  }
  if (Array.isArray(value))
    return value.map((v, i) =>
      resolveAll(v, [...path, String(i)], env, problems, lineOf, baseDir, allowedDirs),
    );
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        resolveAll(v, [...path, k], env, problems, lineOf, baseDir, allowedDirs),
      ]),
    );
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** JSON Schema of trueup.yaml, for editors. */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema(), { io: 'input', unrepresentable: 'any' });
}

export const EMPTY_CONFIG: Readonly<TrueupConfig> = deepFreeze(configSchema().parse({}) as TrueupConfig);
