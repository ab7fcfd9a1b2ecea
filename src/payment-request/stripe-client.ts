/**
 * The only module of the suite that loads the `stripe` runtime: the payment-request bot is not on
 * the webhook path, so its ~250 KB are worth it here (the build minifies this bot and provides the
 * Node globals the SDK expects; see scripts/build.ts).
 */
import Stripe from 'stripe';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PaymentRequestConfig } from './config';
import { failure, requestError } from './errors';

/** Time per Stripe request; the SDK retries network errors, 409 and 5xx (same idempotency key). */
const REQUEST_TIMEOUT_MS = 4_000;
const MAX_NETWORK_RETRIES = 2;
/** A 429 whose Retry-After is at most this is waited out once, inside the bot's 10 s. */
const MAX_RETRY_AFTER_S = 2;

export function createStripeClient(config: PaymentRequestConfig): Stripe {
  return new Stripe(config.secretKey, {
    httpClient: Stripe.createFetchHttpClient(),
    telemetry: false,
    maxNetworkRetries: MAX_NETWORK_RETRIES,
    timeout: REQUEST_TIMEOUT_MS,
    appInfo: { name: 'stripe-medplum payment request' },
    ...(config.api && {
      protocol: config.api.protocol,
      host: config.api.host,
      ...(config.api.port !== undefined && { port: config.api.port }),
    }),
  });
}

/** Whether Stripe answered from its idempotency store (a retry of a request it already served). */
export function wasReplayed(response: { lastResponse?: unknown }): boolean {
  // With the fetch client, `lastResponse` is the fetch Response (headers with `get`); else a plain object.
  const headers = (response.lastResponse as { headers?: unknown } | undefined)?.headers;
  if (typeof (headers as { get?: unknown } | undefined)?.get === 'function') {
    return (headers as { get(name: string): string | null }).get('idempotent-replayed') === 'true';
  }
  return Object.entries((headers as Record<string, string> | undefined) ?? {}).some(
    ([name, value]) => name.toLowerCase() === 'idempotent-replayed' && value === 'true'
  );
}

/**
 * Runs one Stripe call; a 429 with a short Retry-After is retried once (same parameters and key, so
 * it cannot charge twice). Every Stripe error becomes an error that names the cause, without the key.
 */
export async function callStripe<T>(what: string, secretKey: string, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const retryAfter = retryAfterSeconds(err);
      if (attempt === 1 && statusOf(err) === 429 && retryAfter !== undefined && retryAfter <= MAX_RETRY_AFTER_S) {
        await sleep(retryAfter * 1000);
        continue;
      }
      throw describeStripeError(err, what, secretKey);
    }
  }
}

interface StripeErrorLike {
  readonly type?: string;
  readonly statusCode?: number;
  readonly code?: string;
  readonly message?: string;
  readonly requestId?: string;
  readonly headers?: Record<string, string>;
}

function statusOf(err: unknown): number | undefined {
  return (err as StripeErrorLike | undefined)?.statusCode;
}

function retryAfterSeconds(err: unknown): number | undefined {
  const headers = (err as StripeErrorLike | undefined)?.headers ?? {};
  const value = Object.entries(headers).find(([name]) => name.toLowerCase() === 'retry-after')?.[1];
  const seconds = value === undefined ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/** Removes the key itself and anything shaped like a Stripe key from a message. */
export function redact(text: string, secretKey: string): string {
  const withoutKey = secretKey ? text.split(secretKey).join('[redacted]') : text;
  return withoutKey.replace(/\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+/g, '[redacted key]');
}

export function describeStripeError(err: unknown, what: string, secretKey: string): Error {
  const e = (err ?? {}) as StripeErrorLike;
  const said = redact(e.message ?? String(err), secretKey);
  const ref = e.requestId ? ` (Stripe request ${e.requestId})` : '';
  const status = e.statusCode;
  if (e.type === 'StripeConnectionError' || status === undefined) {
    return failure(
      500,
      `Stripe could not be reached while ${what} (network error: ${said}). Retry the same request: ` +
        'its idempotency key makes Stripe answer it once'
    );
  }
  if (status === 429) {
    const after = retryAfterSeconds(err);
    return failure(
      429,
      `Stripe is rate limiting this account (429) while ${what}${after !== undefined ? `: retry after ${after} s` : ''}${ref}`
    );
  }
  if (e.code === 'idempotency_key_in_use' || (status === 409 && e.type === 'StripeIdempotencyError')) {
    return failure(
      409,
      `Stripe is still answering the first try of this request while ${what} (${said}): retry the same request in ` +
        `a few seconds; it gets the same answer${ref}`
    );
  }
  if (e.type === 'StripeIdempotencyError') {
    return failure(
      409,
      `Stripe refused the idempotency key while ${what}: this request was already sent with other parameters ` +
        `(${said}). To request another payment, send a new requestId${ref}`
    );
  }
  if (status === 401 || status === 403) {
    return failure(
      500,
      `Stripe refused the key in STRIPE_SECRET_KEY while ${what} (${status}: ${said}); it needs Checkout Sessions ` +
        `and Customers write${ref}`
    );
  }
  if (status >= 500) {
    return failure(500, `Stripe failed while ${what} (${status}: ${said}); retry the same request${ref}`);
  }
  return requestError(`Stripe refused ${what} (${status}${e.code ? ` ${e.code}` : ''}: ${said})${ref}`);
}
