import { readFileSync } from 'node:fs';

/** Stripe-written objects (see test/fixtures/stripe/README.md): current API shape and the pre-2025-03-31 one. */
export type FixtureShape = 'openapi' | 'openapi-2025-02-24.acacia';

export function loadStripeFixture<T = Record<string, unknown>>(shape: FixtureShape, name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/stripe/${shape}/${name}.json`, import.meta.url), 'utf8')) as T;
}
