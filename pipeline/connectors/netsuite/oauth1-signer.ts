// OAuth 1.0a request signing (RFC 5849) with node:crypto, as NetSuite token-based authentication
// wants it: HMAC-SHA256 over the signature base string, key = consumer secret & token secret,
// and an `Authorization: OAuth realm="<account>", …` header. HMAC-SHA1 is kept for the RFC's
// own test vectors.
import { createHmac, randomBytes } from 'node:crypto';

export interface OAuth1Credentials {
  realm: string;
  consumerKey: string;
  consumerSecret: string;
  tokenId: string;
  tokenSecret: string;
}

export type SignatureMethod = 'HMAC-SHA256' | 'HMAC-SHA1';

/** RFC 5849 §3.6: unreserved characters stay, everything else is %XX of its UTF-8 bytes. */
export function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** RFC 5849 §3.4.1.2: scheme and host lower-case, default ports dropped, no query. */
export function baseStringUri(url: URL): string {
  const scheme = url.protocol.replace(':', '').toLowerCase();
  const host = url.hostname.toLowerCase();
  const port =
    url.port && !((scheme === 'http' && url.port === '80') || (scheme === 'https' && url.port === '443'));
  return `${scheme}://${host}${port ? `:${url.port}` : ''}${url.pathname}`;
}

/** RFC 5849 §3.4.1: METHOD & encoded URI & encoded, sorted, normalised parameters. */
export function signatureBaseString(
  method: string,
  url: URL,
  params: readonly (readonly [string, string])[],
): string {
  const all: [string, string][] = [...url.searchParams.entries(), ...params].map(([k, v]) => [
    percentEncode(k),
    percentEncode(v),
  ]);
  all.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const normalised = all.map(([k, v]) => `${k}=${v}`).join('&');
  return [method.toUpperCase(), percentEncode(baseStringUri(url)), percentEncode(normalised)].join('&');
}

export function sign(
  base: string,
  consumerSecret: string,
  tokenSecret: string,
  method: SignatureMethod,
): string {
  const key = `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`;
  return createHmac(method === 'HMAC-SHA256' ? 'sha256' : 'sha1', key)
    .update(base)
    .digest('base64');
}

/** The Authorization header for one request. `formParams`: an urlencoded body's parameters (never JSON). */
export function oauth1Header(
  creds: OAuth1Credentials,
  req: { method: string; url: URL; formParams?: readonly (readonly [string, string])[] },
  opts: {
    signatureMethod?: SignatureMethod;
    timestamp?: string;
    nonce?: string;
    includeVersion?: boolean;
  } = {},
): string {
  const signatureMethod = opts.signatureMethod ?? 'HMAC-SHA256';
  const oauth: [string, string][] = [
    ['oauth_consumer_key', creds.consumerKey],
    ['oauth_token', creds.tokenId],
    ['oauth_signature_method', signatureMethod],
    ['oauth_timestamp', opts.timestamp ?? String(Math.floor(Date.now() / 1000))],
    ['oauth_nonce', opts.nonce ?? randomBytes(16).toString('hex')],
  ];
  if (opts.includeVersion ?? true) oauth.push(['oauth_version', '1.0']);
  const base = signatureBaseString(req.method, req.url, [...oauth, ...(req.formParams ?? [])]);
  const signature = sign(base, creds.consumerSecret, creds.tokenSecret, signatureMethod);
  const parts = [
    `realm="${percentEncode(creds.realm)}"`,
    ...[...oauth, ['oauth_signature', signature]].map(([k, v]) => `${k}="${percentEncode(v!)}"`),
  ];
  return `OAuth ${parts.join(', ')}`;
}
