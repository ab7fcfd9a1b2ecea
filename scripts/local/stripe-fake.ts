/**
 * A small fake of Stripe's API, as far as the payment-request bot uses it: customers (create,
 * update) and Checkout Sessions (create, retrieve). As strict as Stripe about idempotency keys: a
 * key reused on another endpoint or with other parameters answers 400 `idempotency_error`, a key
 * whose first request is still running answers 409, and a finished one is replayed with
 * `Idempotent-Replayed: true`. Served on loopback by `startStripeFake` (the demo, `npm start`, the
 * bundle test) and through msw by the tests (test/payment-request/stripe-msw.ts).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildRequestedSession, type RequestedSession } from '../../lib/stripe-events/requested-payment';

export interface FakeStripeRequest {
  readonly method: string;
  /** `/v1/…` */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The form body (POST) or query (GET), decoded into nested objects and arrays. */
  readonly params: Record<string, unknown>;
  readonly idempotencyKey?: string;
}

export interface FakeStripeResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** A failure to answer instead of the real one: an HTTP error, or a dropped connection. */
export type FakeStripeFault =
  | {
      readonly kind: 'http';
      readonly status: number;
      readonly body: unknown;
      readonly headers?: Record<string, string>;
    }
  | { readonly kind: 'network' };

export interface StoredSession extends RequestedSession {
  readonly paymentIntentMetadata: Readonly<Record<string, string>>;
}

interface KeyRecord {
  readonly endpoint: string;
  readonly fingerprint: string;
  response?: FakeStripeResponse;
}

export class StripeFake {
  /** Every request received, in order (faulted ones included). */
  readonly requests: FakeStripeRequest[] = [];
  /** The status answered to each of `requests` (0: connection dropped), same order. */
  readonly statuses: number[] = [];
  readonly customers = new Map<
    string,
    { id: string; metadata: Record<string, string>; name?: string; email?: string }
  >();
  readonly sessions = new Map<string, StoredSession>();
  /** Milliseconds every write takes, so that concurrent requests overlap (default 0). */
  writeDelayMs = 0;
  private readonly keys = new Map<string, KeyRecord>();
  private faults: { match: (r: FakeStripeRequest) => boolean; fault: FakeStripeFault; times: number }[] = [];
  private clock: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.clock = options.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /** The next `times` requests that `match` get `fault` instead of their answer. */
  injectFault(fault: FakeStripeFault, match: (r: FakeStripeRequest) => boolean = () => true, times = 1): void {
    this.faults.push({ match, fault, times });
  }

  /** The requests that reached a write endpoint (POST). */
  writes(): FakeStripeRequest[] {
    return this.requests.filter((r) => r.method === 'POST');
  }

  /** The patient pays: the session completes, with a payment intent. */
  pay(sessionId: string): StoredSession & { paymentIntent: string } {
    const session = this.session(sessionId);
    const paid = {
      ...session,
      status: 'complete' as const,
      paymentStatus: 'paid' as const,
      paymentIntent: `pi_3Fake${randomId(20)}`,
    };
    this.sessions.set(sessionId, paid);
    return paid;
  }

  expire(sessionId: string): void {
    this.sessions.set(sessionId, { ...this.session(sessionId), status: 'expired' });
  }

  /** Answers one request, or returns the fault to apply (a dropped connection is the caller's to make). */
  async handle(request: FakeStripeRequest): Promise<FakeStripeResponse | { network: true }> {
    const index = this.requests.push(request) - 1;
    const answer = await this.respond(request);
    this.statuses[index] = 'network' in answer ? 0 : answer.status;
    return answer;
  }

  private async respond(request: FakeStripeRequest): Promise<FakeStripeResponse | { network: true }> {
    const faultIndex = this.faults.findIndex((f) => f.times > 0 && f.match(request));
    const fault = faultIndex >= 0 ? this.faults[faultIndex] : undefined;
    if (fault) {
      fault.times--;
      if (fault.fault.kind === 'network') {
        return { network: true };
      }
      return { status: fault.fault.status, headers: { ...fault.fault.headers }, body: fault.fault.body };
    }
    if (!/^Bearer (sk|rk)_(test|live)_\S+$/.test(request.headers.authorization ?? '')) {
      return error(401, 'invalid_request_error', 'Invalid API Key provided: sk_****');
    }
    if (request.method !== 'POST') {
      return this.answer(request);
    }
    const key = request.idempotencyKey;
    if (!key) {
      return this.answer(request);
    }
    const endpoint = `${request.method} ${request.path}`;
    const fingerprint = JSON.stringify(request.params);
    const known = this.keys.get(key);
    if (known) {
      if (known.endpoint !== endpoint || known.fingerprint !== fingerprint) {
        return error(
          400,
          'idempotency_error',
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try ` +
            `using a key other than '${key}' if you meant to execute a different request.`
        );
      }
      if (!known.response) {
        return error(
          409,
          'idempotency_error',
          'There is currently another in-progress request using this Idempotent Key (probably a network timeout). ' +
            'Please retry your request later.',
          'idempotency_key_in_use'
        );
      }
      return { ...known.response, headers: { ...known.response.headers, 'idempotent-replayed': 'true' } };
    }
    const record: KeyRecord = { endpoint, fingerprint };
    this.keys.set(key, record);
    if (this.writeDelayMs) {
      await new Promise((resolve) => setTimeout(resolve, this.writeDelayMs));
    }
    const response = this.answer(request);
    if (response.status === 200 || response.status === 402) {
      record.response = response;
    } else {
      // Stripe saves no result for a request that failed validation: the key may be used again.
      this.keys.delete(key);
    }
    return response;
  }

  /** The session as Stripe shows it now (the Stripe object). */
  sessionObject(id: string): Record<string, unknown> {
    return buildRequestedSession(this.session(id));
  }

  private session(id: string): StoredSession {
    const session = this.sessions.get(id);
    if (!session) {
      throw new Error(`the fake Stripe has no session ${id}`);
    }
    return session;
  }

  private answer(request: FakeStripeRequest): FakeStripeResponse {
    const { method, path, params } = request;
    if (method === 'POST' && path === '/v1/customers') {
      const id = `cus_Fake${randomId(10)}`;
      const customer = { id, metadata: (params.metadata as Record<string, string> | undefined) ?? {} };
      this.customers.set(id, customer);
      return ok(customerObject(customer, this.clock()));
    }
    const customerPath = /^\/v1\/customers\/([^/]+)$/.exec(path);
    if (method === 'POST' && customerPath?.[1]) {
      const stored = this.customers.get(customerPath[1]);
      if (!stored) {
        return error(404, 'invalid_request_error', `No such customer: '${customerPath[1]}'`, 'resource_missing');
      }
      const updated = { ...stored, ...(params as { name?: string; email?: string }) };
      this.customers.set(stored.id, updated);
      return ok(customerObject(updated, this.clock()));
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      return this.createSession(params);
    }
    const sessionPath = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(path);
    if (method === 'GET' && sessionPath?.[1]) {
      return this.sessions.has(sessionPath[1])
        ? ok(this.sessionObject(sessionPath[1]))
        : error(404, 'invalid_request_error', `No such checkout.session: '${sessionPath[1]}'`, 'resource_missing');
    }
    return error(404, 'invalid_request_error', `Unrecognized request URL (${method}: ${path}).`);
  }

  private createSession(params: Record<string, unknown>): FakeStripeResponse {
    const p = params as {
      mode?: string;
      customer?: string;
      client_reference_id?: string;
      line_items?: { quantity?: string; price_data?: { currency?: string; unit_amount?: string } }[];
      metadata?: Record<string, string>;
      payment_intent_data?: { metadata?: Record<string, string> };
      success_url?: string;
      cancel_url?: string;
    };
    if (p.mode !== 'payment') {
      return error(
        400,
        'invalid_request_error',
        'The fake Stripe only makes mode=payment sessions.',
        'parameter_invalid'
      );
    }
    if (p.customer && !this.customers.has(p.customer)) {
      return error(400, 'invalid_request_error', `No such customer: '${p.customer}'`, 'resource_missing');
    }
    const lines = p.line_items ?? [];
    const currency = lines[0]?.price_data?.currency;
    let amount = 0;
    for (const line of lines) {
      const unit = Number(line.price_data?.unit_amount);
      if (!Number.isSafeInteger(unit) || unit < 0 || line.price_data?.currency !== currency) {
        return error(400, 'invalid_request_error', 'Invalid integer: line_items[0][price_data][unit_amount]');
      }
      amount += unit * Number(line.quantity ?? 1);
    }
    if (!currency || !lines.length) {
      return error(400, 'invalid_request_error', 'Missing required param: line_items.', 'parameter_missing');
    }
    const id = `cs_test_Fake${randomId(24)}`;
    const session: StoredSession = {
      id,
      customer: p.customer ?? '',
      clientReferenceId: p.client_reference_id ?? null,
      amount,
      currency,
      metadata: p.metadata ?? {},
      paymentIntentMetadata: p.payment_intent_data?.metadata ?? {},
      created: this.clock(),
      status: 'open',
      paymentStatus: 'unpaid',
      paymentIntent: null,
      successUrl: p.success_url ?? null,
      cancelUrl: p.cancel_url ?? null,
    };
    this.sessions.set(id, session);
    return ok(this.sessionObject(id));
  }
}

function customerObject(
  customer: { id: string; metadata: Record<string, string>; name?: string; email?: string },
  created: number
) {
  return {
    id: customer.id,
    object: 'customer',
    created,
    email: customer.email ?? null,
    name: customer.name ?? null,
    metadata: customer.metadata,
    livemode: false,
  };
}

function randomId(length: number): string {
  return randomBytes(length).toString('base64url').replace(/[-_]/g, 'x').slice(0, length);
}

function ok(body: unknown): FakeStripeResponse {
  return { status: 200, headers: { 'request-id': `req_${randomId(14)}` }, body };
}

function error(status: number, type: string, message: string, code?: string): FakeStripeResponse {
  return {
    status,
    headers: { 'request-id': `req_${randomId(14)}` },
    body: { error: { type, message, ...(code && { code }) } },
  };
}

/**
 * Decodes Stripe's form encoding (`line_items[0][price_data][currency]=usd&metadata[k]=v`) into
 * nested objects, with numeric segments as arrays.
 */
export function decodeStripeForm(search: URLSearchParams): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of search) {
    const [head = '', ...rest] = key.split('[').map((part, i) => (i === 0 ? part : part.replace(/\]$/, '')));
    const path = [head, ...rest];
    let node: Record<string, unknown> | unknown[] = root;
    path.forEach((segment, i) => {
      const last = i === path.length - 1;
      const nextIsIndex = /^\d+$/.test(path[i + 1] ?? '');
      const container = node as Record<string, unknown>;
      if (last) {
        container[segment] = value;
      } else {
        container[segment] ??= nextIsIndex ? [] : {};
        node = container[segment] as Record<string, unknown>;
      }
    });
  }
  return root;
}

/** Reads a Node or fetch request's method, path, headers and decoded params. */
export function fakeStripeRequest(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: string
): FakeStripeRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const params = decodeStripeForm(method === 'GET' ? url.searchParams : new URLSearchParams(body));
  return {
    method,
    path: url.pathname,
    headers: lower,
    params,
    ...(lower['idempotency-key'] && { idempotencyKey: lower['idempotency-key'] }),
  };
}

export interface StripeFakeServer {
  /** `http://127.0.0.1:<port>`: what STRIPE_API_URL names. */
  readonly origin: string;
  readonly fake: StripeFake;
  close(): Promise<void>;
}

/** Serves `fake` on loopback (a free port unless one is given). */
export async function startStripeFake(fake = new StripeFake(), port = 0): Promise<StripeFakeServer> {
  const server: Server = createServer((req, res) => {
    const chunks: Uint8Array[] = [];
    req.on('data', (chunk: Uint8Array) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string') {
          headers[name] = value;
        }
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = new TextDecoder().decode(Buffer.concat(chunks));
      void fake.handle(fakeStripeRequest(req.method ?? 'GET', url, headers, body)).then((answer) => {
        if ('network' in answer) {
          res.destroy();
          return;
        }
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(JSON.stringify(answer.body));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${address.port}`,
    fake,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
