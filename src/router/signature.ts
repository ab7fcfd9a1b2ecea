/**
 * Stripe webhook signature verification, implemented with `node:crypto` only.
 *
 * This module is pure (no I/O, no logging) and must not rely on the Node globals `Buffer`,
 * `process` or `setTimeout`: bots are bundled to CommonJS and run inside a `vm` sandbox where
 * those globals do not exist. Everything it needs is imported explicitly.
 *
 * Stripe signs `${t}.${rawBody}` with HMAC-SHA256, keyed by the whole endpoint secret string
 * (including its `whsec_` prefix), and sends `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`.
 * See https://docs.stripe.com/webhooks/signature.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How the body was verified.
 * - `raw-body`: the bot received the exact bytes Stripe sent (e.g. Medplum `Bot.rawBody`).
 * - `reserialized-json`: the bot received parsed JSON; we verify `JSON.stringify(body, null, 2)`,
 *   which reproduces Stripe's bytes for ordinary payloads but not for bodies containing `\u`
 *   escapes or integer-valued floats such as `50.0`.
 */
export type SignatureMode = 'raw-body' | 'reserialized-json';

export type SignatureCheck =
  | { readonly ok: true; readonly mode: SignatureMode; readonly timestamp: number }
  | { readonly ok: false; readonly mode: SignatureMode; readonly reason: string };

/** Stripe's default tolerance, in seconds, between the signed timestamp and now. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

const EXPECTED_SCHEME = 'v1';
const encoder = new TextEncoder();

/** Kept here too for callers that verify signatures; the rule lives with the configuration. */
export { parseWebhookSecrets } from '../config';

interface ParsedHeader {
  readonly timestamp: number;
  readonly signatures: readonly string[];
}

/** Parses `t=…,v1=…,v1=…,v0=…`; returns undefined if there is no usable timestamp. */
function parseSignatureHeader(header: string): ParsedHeader | undefined {
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const rawItem of header.split(',')) {
    const item = rawItem.trim();
    const eq = item.indexOf('=');
    if (eq <= 0) {
      continue;
    }
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (key === 't') {
      if (!/^\d{1,15}$/.test(value)) {
        return undefined;
      }
      timestamp = Number(value);
    } else if (key === EXPECTED_SCHEME && value.length > 0) {
      signatures.push(value);
    }
    // Unknown schemes (v0, future ones) are ignored, as Stripe's own libraries do.
  }
  if (timestamp === undefined) {
    return undefined;
  }
  return { timestamp, signatures };
}

function computeSignature(timestamp: number, body: string, secret: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

/** Constant-time comparison of two ASCII/hex strings (length is not secret). */
function secureCompare(expected: string, candidate: string): boolean {
  const a = encoder.encode(expected);
  const b = encoder.encode(candidate);
  if (a.length !== b.length) {
    return false;
  }
  return timingSafeEqual(a, b);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Verifies a Stripe webhook signature.
 *
 * `payload` as a string is verified as is (mode `raw-body`); anything else is treated as parsed
 * JSON and verified as `JSON.stringify(payload, null, 2)` (mode `reserialized-json`).
 * Any `v1` signature in the header matching any of `secrets` passes. The signed timestamp must be
 * within `toleranceSeconds` (default 300) of `nowSeconds`, in either direction.
 *
 * Failure reasons never contain secret or signature values.
 */
export function verifyStripeSignature(args: {
  payload: string | unknown;
  header: string | undefined;
  secrets: readonly string[];
  toleranceSeconds?: number;
  nowSeconds?: number;
  /** `JSON.stringify(payload, null, 2)` when the caller has it already (parsed payloads only). */
  serialized?: string;
}): SignatureCheck {
  const isRaw = typeof args.payload === 'string';
  const mode: SignatureMode = isRaw ? 'raw-body' : 'reserialized-json';
  const fail = (reason: string): SignatureCheck => ({ ok: false, mode, reason });

  const secrets = args.secrets.map((s) => s.trim()).filter((s) => s.length > 0);
  if (secrets.length === 0) {
    return fail(
      'STRIPE_WEBHOOK_SECRET is not set: the bot cannot verify Stripe webhook signatures. ' +
        'Set the bot secret STRIPE_WEBHOOK_SECRET to the endpoint signing secret (whsec_…) from the Stripe dashboard; ' +
        'during rotation list several, comma-separated.'
    );
  }

  const header = args.header?.trim();
  if (header === undefined || header.length === 0) {
    return fail(
      'Missing Stripe-Signature header: the request did not come from Stripe, or the header was stripped on the way. ' +
        'Make sure the webhook endpoint forwards the Stripe-Signature header to the bot.'
    );
  }

  const parsed = parseSignatureHeader(header);
  if (parsed === undefined) {
    return fail(
      'Malformed Stripe-Signature header: no valid timestamp (expected "t=<unix seconds>,v1=<hex signature>"). ' +
        'Pass the Stripe-Signature header value through unmodified.'
    );
  }
  if (parsed.signatures.length === 0) {
    return fail(
      `Stripe-Signature header has no ${EXPECTED_SCHEME} signature (only unknown or legacy schemes). ` +
        `Pass the Stripe-Signature header value through unmodified; Stripe always sends at least one ${EXPECTED_SCHEME} signature.`
    );
  }

  let body: string | undefined;
  if (isRaw) {
    body = args.payload as string;
  } else if (args.serialized !== undefined) {
    body = args.serialized;
  } else {
    try {
      body = JSON.stringify(args.payload, null, 2) as string | undefined;
    } catch {
      body = undefined;
    }
  }
  if (body === undefined || body.length === 0) {
    return fail(
      'Empty or unserialisable webhook body: there is nothing to verify the signature against. ' +
        'Make sure the webhook request body reaches the bot.'
    );
  }

  let matched = false;
  for (const secret of secrets) {
    const expected = computeSignature(parsed.timestamp, body, secret);
    for (const candidate of parsed.signatures) {
      // Evaluate every pair (no short-circuit) so timing does not reveal which one matched.
      matched = secureCompare(expected, candidate) || matched;
    }
  }
  if (!matched) {
    const base =
      'No Stripe-Signature v1 signature matches the webhook body for any configured secret: ' +
      'either STRIPE_WEBHOOK_SECRET is not the signing secret of this endpoint, or the body was altered.';
    if (isRaw) {
      return fail(
        `${base} Check the secret (whsec_…) in the Stripe dashboard and make sure the raw body is passed unmodified.`
      );
    }
    return fail(
      `${base} The body reached the bot already parsed as JSON, and re-serialising it with JSON.stringify may not ` +
        'reproduce the exact bytes Stripe signed (e.g. \\u escapes or numbers such as 50.0). ' +
        'Cure: enable Bot.rawBody (Medplum >= 5.2) so the bot receives the raw body, ' +
        'or recover the event from Stripe with `npm run backfill`.'
    );
  }

  const tolerance =
    args.toleranceSeconds !== undefined && args.toleranceSeconds >= 0
      ? args.toleranceSeconds
      : DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  const now = args.nowSeconds ?? Math.floor(Date.now() / 1000);
  const age = now - parsed.timestamp;
  if (age > tolerance) {
    return fail(
      `Stripe-Signature timestamp is stale: signed ${plural(age, 'second')} ago, beyond the ${plural(tolerance, 'second')} tolerance. ` +
        'This may be a replayed request, or the server clock is wrong; if the event is genuine, recover it with `npm run backfill`.'
    );
  }
  if (-age > tolerance) {
    return fail(
      `Stripe-Signature timestamp is too far in the future: ${plural(-age, 'second')} ahead, beyond the ${plural(tolerance, 'second')} tolerance. ` +
        'Check the server clock (NTP).'
    );
  }

  return { ok: true, mode, timestamp: parsed.timestamp };
}
