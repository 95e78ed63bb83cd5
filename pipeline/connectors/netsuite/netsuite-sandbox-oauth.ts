// Token-based authentication as the NetSuite sandbox checks it (WIRE.md "Authentication"): an
// `Authorization: OAuth realm="…", oauth_consumer_key="…", …` header whose HMAC-SHA256
// signature the sandbox recomputes (RFC 5849 §3.4: method, base URI, sorted parameters incl. the
// query string) with the integration record's consumer secret and the access token's secret. The
// realm must be the account id, the timestamp recent, and a nonce is accepted once per token.
import { timingSafeEqual } from 'node:crypto';
import type { SandboxRequest } from '../http/sandbox-server.js';
import { type OAuth1Credentials, sign, signatureBaseString } from './oauth1-signer.js';

/** How far a request's oauth_timestamp may be from the sandbox clock (unconfirmed for NetSuite). */
const TIMESTAMP_WINDOW_S = 300;
/** A nonce is a unique alphanumeric string of 6–64 characters (Oracle, token password for Connect). */
const NONCE = /^[A-Za-z0-9]{6,64}$/;

/** Parses `OAuth k="v", …` into its (percent-decoded) parameters; null if it is not one. */
export function parseOAuthHeader(header: string | undefined): Map<string, string> | null {
  if (!header?.startsWith('OAuth ')) return null;
  const params = new Map<string, string>();
  for (const m of header.slice(6).matchAll(/([A-Za-z0-9_]+)="([^"]*)"/g))
    params.set(m[1]!, decodeURIComponent(m[2]!));
  return params;
}

/**
 * The sandbox's credential check (SandboxServer `authenticate`): true for a correctly signed
 * request with these credentials, false for any other OAuth request, and for a request without
 * OAuth when bearer tokens are not accepted; undefined leaves a bearer request to the token check.
 */
export function oauth1Verifier(
  creds: OAuth1Credentials,
  opts: { now: () => number; bearerAccepted: boolean },
): (req: SandboxRequest) => boolean | undefined {
  const seen = new Set<string>();
  return (req) => {
    const params = parseOAuthHeader(req.headers.authorization);
    if (!params) return opts.bearerAccepted ? undefined : false;
    if (params.get('realm') !== creds.realm) return false;
    if (params.get('oauth_consumer_key') !== creds.consumerKey) return false;
    if (params.get('oauth_token') !== creds.tokenId) return false;
    if (params.get('oauth_signature_method') !== 'HMAC-SHA256') return false;
    const ts = Number(params.get('oauth_timestamp'));
    if (!Number.isInteger(ts) || Math.abs(ts - opts.now() / 1000) > TIMESTAMP_WINDOW_S) return false;
    const nonce = params.get('oauth_nonce') ?? '';
    if (!NONCE.test(nonce) || seen.has(`${ts}:${nonce}`)) return false;
    const signed = [...params].filter(([k]) => k !== 'realm' && k !== 'oauth_signature') as [
      string,
      string,
    ][];
    const url = new URL(`${req.url.pathname}${req.url.search}`, `http://${req.headers.host ?? 'localhost'}`);
    const expected = sign(
      signatureBaseString(req.method, url, signed),
      creds.consumerSecret,
      creds.tokenSecret,
      'HMAC-SHA256',
    );
    const given = Buffer.from(params.get('oauth_signature') ?? '');
    const want = Buffer.from(expected);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return false;
    seen.add(`${ts}:${nonce}`);
    return true;
  };
}
