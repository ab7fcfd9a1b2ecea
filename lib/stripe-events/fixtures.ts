import { readFileSync } from 'node:fs';

/** Stripe-written objects (see test/fixtures/stripe/README.md): current API shape and the pre-2025-03-31 one. */
export type FixtureShape = 'openapi' | 'openapi-2025-02-24.acacia';

/** Fixture directories: the two object shapes, and a real captured event from stripe-dotnet. */
export type FixtureDir = FixtureShape | 'stripe-dotnet';

export function loadStripeFixture<T = Record<string, unknown>>(dir: FixtureDir, name: string): T {
  return JSON.parse(
    readFileSync(new URL(`../../test/fixtures/stripe/${dir}/${name}.json`, import.meta.url), 'utf8')
  ) as T;
}
