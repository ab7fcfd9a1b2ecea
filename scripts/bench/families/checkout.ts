import { BOT_NAME } from '../../../src/constants';
import type { StripeEvent } from '../../../src/stripe/types';
import { CUSTOMER_ID } from '../../../test/harness/project';
import { sessionEvent, type SessionOutcome } from '../../../lib/stripe-events/customer';
import { buildPaymentIntent, wrapShapedEvent } from '../../../lib/stripe-events/events';
import type { FixtureShape } from '../../../lib/stripe-events/fixtures';
import { BENCH_PATIENTS, seedBenchPatients } from './customer';
import { deliveryStream, pickWeighted } from './stream';
import type { BenchFamily } from './types';

type SessionPath = 'paid' | 'async-paid' | 'async-failed' | 'expired';
const PATH_WEIGHTS: Record<SessionPath, number> = { paid: 0.7, 'async-paid': 0.1, 'async-failed': 0.05, expired: 0.15 };
const SHAPES: readonly FixtureShape[] = ['openapi', 'openapi-2025-02-24.acacia'];
const CURRENCIES = ['usd', 'usd', 'usd', 'eur', 'jpy'] as const;

/**
 * Payment Link / Checkout sessions through stripe-router, stripe-customer and stripe-payment-intent:
 * paid at once (70%, with the payment intent's `succeeded` around the same time), asynchronous
 * payments that succeed or fail, expired sessions; half name a Patient by `client_reference_id`,
 * 60% belong to the seeded Patient's customer, the others to a new customer each.
 */
export const checkoutFamily: BenchFamily = {
  name: 'checkout',
  description: 'Payment Link sessions (paid, async paid/failed, expired) with their payments, both API shapes',
  bots: [BOT_NAME.router, BOT_NAME.customer, BOT_NAME.paymentIntent],

  makeStream(n: number, seed: number): StripeEvent[] {
    return deliveryStream(n, seed, (k, rand, start) => {
      const tag = `${seed.toString(36)}x${String(k).padStart(6, '0')}`;
      const shape = SHAPES[Math.floor(rand() * SHAPES.length)] as FixtureShape;
      const customer = rand() < 0.6 ? CUSTOMER_ID : `cus_1BLink${tag}`;
      const intent = `pi_1BLink${tag}`;
      const variant = {
        id: `cs_test_1B${tag}`,
        shape,
        customer,
        paymentIntent: intent,
        paymentLink: 'plink_1BenchConsult',
        amount: 1000 + Math.floor(rand() * 20) * 500,
        currency: CURRENCIES[Math.floor(rand() * CURRENCIES.length)] as string,
        created: start,
        ...(rand() < 0.5 && { clientReferenceId: BENCH_PATIENTS[Math.floor(rand() * BENCH_PATIENTS.length)] }),
      };
      const path = pickWeighted(PATH_WEIGHTS, rand);
      const at = (dt: number, outcome: SessionOutcome, type?: string): StripeEvent =>
        sessionEvent(variant, outcome, { created: start + dt, id: `evt_1B${tag}s${dt}`, ...(type && { type }) });
      const paid = (dt: number): StripeEvent =>
        wrapShapedEvent(
          'payment_intent.succeeded',
          buildPaymentIntent(
            { id: intent, shape, customer, amount: variant.amount, currency: variant.currency },
            'succeeded',
            start + dt
          ),
          shape,
          { created: start + dt, id: `evt_1B${tag}p${dt}` }
        );
      switch (path) {
        case 'paid':
          return [[paid(0), at(1, 'paid')]];
        case 'async-paid':
          return [[at(0, 'pending'), paid(2), at(3, 'paid', 'checkout.session.async_payment_succeeded')]];
        case 'async-failed':
          return [[at(0, 'pending'), at(3, 'failed')]];
        case 'expired':
          return [[at(0, 'expired')]];
      }
    });
  },

  async seed(target) {
    await seedBenchPatients(target);
  },
};
