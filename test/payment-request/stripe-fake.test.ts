import { describe, expect, it } from 'vitest';
import { StripeFake, type FakeStripeRequest } from '../../scripts/local/stripe-fake';

const auth = { authorization: 'Bearer rk_test_fake123' };
const post = (path: string, params: Record<string, unknown>, key?: string): FakeStripeRequest => ({
  method: 'POST',
  path,
  headers: auth,
  params,
  ...(key && { idempotencyKey: key }),
});

describe('the fake Stripe is as strict as Stripe about idempotency keys', () => {
  it('replays a finished key with Idempotent-Replayed, creating nothing more', async () => {
    const fake = new StripeFake();
    const first = await fake.handle(post('/v1/customers', { metadata: { a: '1' } }, 'k1'));
    const again = await fake.handle(post('/v1/customers', { metadata: { a: '1' } }, 'k1'));
    expect(again).toEqual({
      ...first,
      headers: { ...('headers' in first ? first.headers : {}), 'idempotent-replayed': 'true' },
    });
    expect(fake.customers.size).toBe(1);
  });

  it('answers 400 idempotency_error for the same key with other parameters or on another endpoint', async () => {
    const fake = new StripeFake();
    await fake.handle(post('/v1/customers', { metadata: { a: '1' } }, 'k1'));
    for (const request of [
      post('/v1/customers', { metadata: { a: '2' } }, 'k1'),
      post('/v1/checkout/sessions', {}, 'k1'),
    ]) {
      const answer = await fake.handle(request);
      expect(answer).toMatchObject({ status: 400, body: { error: { type: 'idempotency_error' } } });
    }
    expect(fake.customers.size).toBe(1);
  });

  it('answers 409 while the first request with the key is still running', async () => {
    const fake = new StripeFake();
    fake.writeDelayMs = 50;
    const [a, b] = await Promise.all([
      fake.handle(post('/v1/customers', {}, 'k2')),
      fake.handle(post('/v1/customers', {}, 'k2')),
    ]);
    expect([a, b].map((x) => ('status' in x ? x.status : 0)).sort()).toEqual([200, 409]);
    expect(fake.customers.size).toBe(1);
  });

  it('refuses requests without a key shaped like Stripe keys (401)', async () => {
    const fake = new StripeFake();
    const answer = await fake.handle({ ...post('/v1/customers', {}), headers: { authorization: 'Bearer nope' } });
    expect(answer).toMatchObject({ status: 401 });
  });
});
