import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRequestProject, outcomeText, SECRET_KEY, useStripeFake, type RequestProject } from './helpers';

const stripe = useStripeFake({ beforeAll, afterAll, beforeEach });

const isSession = (r: { method: string; path: string }) => r.method === 'POST' && r.path === '/v1/checkout/sessions';

describe('Stripe errors become clear errors that never show the key', () => {
  let project: RequestProject;
  let logged: string[];
  beforeEach(async () => {
    project = await createRequestProject();
    logged = [];
    for (const level of ['log', 'info', 'warn', 'error'] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        logged.push(args.map(String).join(' '));
      });
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
    for (const line of logged) {
      expect(line).not.toContain(SECRET_KEY);
    }
  });

  const request = () => project.request({ patient: `Patient/${project.patient.id}`, amount: 5000 });

  it('429 with a short Retry-After: waited out once, then the same request succeeds', async () => {
    stripe.current.injectFault(
      {
        kind: 'http',
        status: 429,
        headers: { 'retry-after': '1' },
        body: { error: { type: 'rate_limit_error', message: 'Too many requests' } },
      },
      isSession
    );
    const response = await request();
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(stripe.current.statuses).toEqual([429, 200]);
    expect(stripe.current.sessions.size).toBe(1);
  });

  it('429 with a long Retry-After: 429 naming the wait', async () => {
    stripe.current.injectFault(
      {
        kind: 'http',
        status: 429,
        headers: { 'retry-after': '30' },
        body: { error: { type: 'rate_limit_error', message: 'Too many requests' } },
      },
      isSession
    );
    const response = await request();
    expect(response.status).toBe(429);
    expect(outcomeText(response.body)).toMatch(
      /Stripe is rate limiting this account \(429\) while creating the Checkout Session: retry after 30 s/
    );
    expect(stripe.current.sessions.size).toBe(0);
  });

  it('a network failure: retried by the SDK with the same key, then a clear error', async () => {
    stripe.current.injectFault({ kind: 'network' }, isSession, 10);
    const response = await request();
    expect(response.status).toBe(500);
    expect(outcomeText(response.body)).toMatch(
      /Stripe could not be reached while creating the Checkout Session \(network error/
    );
    const posts = stripe.current.requests.filter(isSession);
    expect(posts.length).toBe(3);
    expect(new Set(posts.map((p) => p.idempotencyKey)).size).toBe(1);
  });

  it('a network failure that heals: the retry gets the session', async () => {
    stripe.current.injectFault({ kind: 'network' }, isSession, 1);
    const response = await request();
    expect(response.status).toBe(200);
    expect(stripe.current.sessions.size).toBe(1);
  });

  it('a refused key (401): names STRIPE_SECRET_KEY and what it needs, with the key redacted', async () => {
    stripe.current.injectFault(
      {
        kind: 'http',
        status: 401,
        body: { error: { type: 'invalid_request_error', message: `Invalid API Key provided: ${SECRET_KEY}` } },
      },
      () => true,
      5
    );
    const response = await request();
    expect(response.status).toBe(500);
    const text = outcomeText(response.body);
    expect(text).toMatch(/Stripe refused the key in STRIPE_SECRET_KEY .* Checkout Sessions and Customers write/);
    expect(text).toContain('[redacted]');
    expect(JSON.stringify(response.body)).not.toContain(SECRET_KEY);
    expect(JSON.stringify(response.body)).not.toMatch(/rk_test_[A-Za-z0-9]/);
  });

  it('a request Stripe refuses (400, no card involved): its reason and request id', async () => {
    stripe.current.injectFault(
      {
        kind: 'http',
        status: 400,
        headers: { 'request-id': 'req_Refused1' },
        body: {
          error: {
            type: 'invalid_request_error',
            code: 'amount_too_small',
            message: "The Checkout Session's total amount due must add up to at least $0.50 usd",
          },
        },
      },
      isSession
    );
    const response = await request();
    expect(response.status).toBe(400);
    expect(outcomeText(response.body)).toMatch(
      /Stripe refused creating the Checkout Session \(400 amount_too_small: .*at least \$0\.50 usd\) \(Stripe request req_Refused1\)/
    );
  });

  it('a key still in flight after the retries (409): retry the same request, not a new requestId', async () => {
    stripe.current.injectFault(
      {
        kind: 'http',
        status: 409,
        body: {
          error: {
            type: 'idempotency_error',
            code: 'idempotency_key_in_use',
            message: 'There is currently another in-progress request using this Idempotent Key',
          },
        },
      },
      isSession,
      10
    );
    const response = await request();
    expect(response.status).toBe(409);
    expect(outcomeText(response.body)).toMatch(
      /still answering the first try .* retry the same request in a few seconds/
    );
    expect(stripe.current.requests.filter(isSession)).toHaveLength(3);
  });

  it('Stripe failing (500 every time): retried, then a clear error', async () => {
    stripe.current.injectFault(
      { kind: 'http', status: 500, body: { error: { type: 'api_error', message: 'Something went wrong' } } },
      isSession,
      10
    );
    const response = await request();
    expect(response.status).toBe(500);
    expect(outcomeText(response.body)).toMatch(
      /Stripe failed while creating the Checkout Session \(500: Something went wrong\); retry the same request/
    );
  });
});
