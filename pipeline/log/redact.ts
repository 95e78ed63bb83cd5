// The secret redaction registry: every resolved secret is registered here, and `redact` replaces
// registered secrets and connection passwords in any text (log lines, printed errors). Layer 0, so
// the logger and every connector can use it without reaching up into the config loader.

const known = new Set<string>();

/** Registers a value to be redacted from every log line and printed error. */
export function registerSecret(value: string): void {
  if (value.length >= 4) known.add(value);
}

export function knownSecrets(): ReadonlySet<string> {
  return known;
}

// The password of `scheme://user:password@host`: everything up to the LAST '@' before the host
// (pg accepts an unencoded '@' in a password, so the first '@' may be inside it). The run stops
// at whitespace, '/', or a '"' that is not escaped, so it never reaches past the URL into the
// next field of a JSON log line.
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@"]+:)((?:[^\s/"\\]|\\.)+)(@)/gi;
// `?password=…` / `&sslpassword=…` in a connection URL's query.
const QUERY_PASSWORD = /([?&](?:ssl)?password=)([^&#\s"]+)/gi;
// `password=…` in a libpq key=value connection string: a quoted value or up to whitespace.
const KV_PASSWORD = /((?:^|[\s"'(,;])(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'"][^\s"]*)/gi;

/** `s` as it appears inside a JSON string (a quote or backslash is escaped there). */
function jsonEscaped(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/**
 * Replaces every registered secret and any connection password (URL userinfo, `?password=`,
 * key=value `password=`) in `text` with "***". Log lines are JSON, where a secret holding a
 * quote, backslash or control character appears escaped, so that form is redacted too (first:
 * it is the longer one). The URL-encoded form is redacted as well.
 */
export function redact(text: string): string {
  let out = text
    .replace(URL_PASSWORD, '$1***$3')
    .replace(QUERY_PASSWORD, '$1***')
    .replace(KV_PASSWORD, (m, head: string, value: string) => (value === '***' ? m : `${head}***`));
  for (const s of known) {
    for (const form of new Set([jsonEscaped(s), s, encodeURIComponent(s)]))
      if (out.includes(form)) out = out.split(form).join('***');
  }
  return out;
}
