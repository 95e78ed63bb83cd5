// Identifiers that come from configuration (tenant ids, a customer's table and column names)
// are either validated against a strict pattern or quoted by this one helper. Values never go
// into SQL text at all: they are always $n parameters.
import { TrueupError } from './model/errors.js';

/** Tenant ids name folders, files and roles, so they are restricted; everything else is a value. */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export class InvalidIdentifierError extends TrueupError {
  override name = 'InvalidIdentifierError';
  constructor(message: string) {
    super(message, { kind: 'terminal' });
  }
}

export function assertTenantId(id: string, where = 'tenant id'): string {
  if (!TENANT_ID_PATTERN.test(id)) {
    throw new InvalidIdentifierError(
      `${where} ${JSON.stringify(id)} is not allowed: use 1-63 characters of a-z, 0-9, "_" or "-", starting with a letter or digit`,
    );
  }
  return id;
}

/**
 * Quotes one SQL identifier (a table, column or schema name) for Postgres: wraps it in double
 * quotes and doubles any inner quote. Rejects what Postgres cannot hold: empty, NUL, > 63 bytes.
 */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new InvalidIdentifierError('empty SQL identifier');
  if (name.includes('\0'))
    throw new InvalidIdentifierError(`SQL identifier ${JSON.stringify(name)} contains a NUL byte`);
  if (Buffer.byteLength(name, 'utf8') > 63)
    throw new InvalidIdentifierError(
      `SQL identifier ${JSON.stringify(name)} is longer than 63 bytes (Postgres would truncate it)`,
    );
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a possibly schema-qualified name given as parts: ["my schema", "Order"] → "my schema"."Order". */
export function quoteQualified(...parts: string[]): string {
  return parts.map(quoteIdent).join('.');
}

/** A SQL string literal, for the rare statements that take no parameters (replication commands). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new InvalidIdentifierError('string literal contains a NUL byte');
  return `'${value.replaceAll("'", "''")}'`;
}
