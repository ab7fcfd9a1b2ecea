/**
 * Stripe's serialisation and signature of an event body, with the Stripe SDK as the oracle (an
 * implementation independent of the router's own node:crypto one). Used by the tests and by
 * `npm run demo`, which signs the bundled stream as Stripe would.
 */
import Stripe from 'stripe';

/** The Stripe SDK, used only as an oracle for signatures. */
export const stripeOracle = new Stripe('sk_test_oracle');

/** Stripe's own serialisation of an event body. */
export function stripeBody(event: unknown): string {
  return JSON.stringify(event, null, 2);
}

export function signatureHeader(body: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return stripeOracle.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });
}
