// Escaping for the HTML reports: text and attribute values (record names are user data), JSON
// embedded in a <script type="application/json"> block so that no value — `</script>`, `<!--`,
// U+2028 — can end the block or start markup, and the Content-Security-Policy that lets only the
// report's own inline script run and nothing load from anywhere.
import { createHash } from 'node:crypto';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text for an HTML text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * JSON for a <script type="application/json"> block: `<`, `>` and `&` as \u escapes (so no
 * `</script>` or `<!--` can appear), and the two line separators JavaScript once treated as line
 * ends. JSON.parse of the block's text gives back exactly the value.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The CSP source of an inline script: `'sha256-<base64>'` of its exact text. */
export function scriptHashSource(script: string): string {
  return `'sha256-${createHash('sha256').update(script, 'utf8').digest('base64')}'`;
}

/**
 * Nothing loads from anywhere (`default-src 'none'`), styles are the page's own, the only script
 * that runs is the one whose hash is given (or none), images only as data: URLs.
 */
export function contentSecurityPolicy(scriptSources: readonly string[]): string {
  const script = scriptSources.length ? scriptSources.join(' ') : "'none'";
  return `default-src 'none'; style-src 'unsafe-inline'; script-src ${script}; img-src data:`;
}
