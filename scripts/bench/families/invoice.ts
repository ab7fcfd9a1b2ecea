import type { Account } from '@medplum/fhirtypes';
import { BOT_NAME, STRIPE_SYSTEM } from '../../../src/constants';
import type { StripeEvent } from '../../../src/stripe/types';
import { CUSTOMER_ID } from '../../../test/harness/project';
import { invoiceLifecycleEvents, type InvoiceLifecycle } from '../../../lib/stripe-events/events';
import { deliveryStream, pickWeighted } from './stream';
import type { BenchFamily } from './types';

/** Share of each lifecycle among the stream's invoices (about 5 events per invoice on average). */
const LIFECYCLE_WEIGHTS: Record<InvoiceLifecycle, number> = {
  paid: 0.6,
  'uncollectible-then-paid': 0.1,
  voided: 0.15,
  deleted: 0.15,
};

/** Subscriptions the invoices may belong to; the first `SUBSCRIPTIONS_WITH_ACCOUNT` have an Account. */
const SUBSCRIPTIONS = Array.from({ length: 25 }, (_, i) => `sub_1BenchPlan${String(i).padStart(2, '0')}`);
const SUBSCRIPTIONS_WITH_ACCOUNT = 20;
const CURRENCIES = ['usd', 'usd', 'usd', 'usd', 'eur', 'gbp', 'jpy', 'kwd'] as const;

/**
 * `invoice.*` through stripe-router and stripe-invoice: many invoices, each with one of the
 * lifecycles of lib/stripe-events/events.ts (both payload shapes, a third of them on a
 * subscription, one in ten for a customer with no Patient), starting about every 2 s so that
 * lifecycles overlap; events of the same second are common. Delivered in time order, shuffled
 * within windows of 6, with 2% delivered twice up to 20 deliveries later.
 */
export const invoiceFamily: BenchFamily = {
  name: 'invoice',
  description: 'invoice lifecycles (paid, voided, uncollectible then paid, deleted draft), both API shapes',
  bots: [BOT_NAME.router, BOT_NAME.invoice],

  makeStream(n: number, seed: number): StripeEvent[] {
    return deliveryStream(n, seed, (k, rand, start) => {
      const objects: StripeEvent[][] = [];
      const lifecycle = pickWeighted(LIFECYCLE_WEIGHTS, rand);
      const tag = `${seed.toString(36)}x${String(k).padStart(6, '0')}`;
      const amount = 500 + Math.floor(rand() * 40) * 250;
      const events = invoiceLifecycleEvents(
        {
          id: `in_1B${tag}`,
          shape: rand() < 0.5 ? 'openapi' : 'openapi-2025-02-24.acacia',
          customer: rand() < 0.9 ? CUSTOMER_ID : `cus_1BenchNoPatient${tag}`,
          subscription: rand() < 0.33 ? SUBSCRIPTIONS[Math.floor(rand() * SUBSCRIPTIONS.length)] : null,
          currency: CURRENCIES[Math.floor(rand() * CURRENCIES.length)],
          amount,
          tax: rand() < 0.3 ? Math.round(amount * 0.08) : 0,
          discount: rand() < 0.1 ? 100 : 0,
        },
        lifecycle,
        {
          start,
          gaps: Array.from({ length: 6 }, () => Math.floor(rand() * 4)),
          ids: Array.from({ length: 6 }, (_, i) => `evt_1B${tag}s${i}`),
        }
      );
      objects.push(events);
      return objects;
    });
  },

  async seed(target) {
    for (const subscription of SUBSCRIPTIONS.slice(0, SUBSCRIPTIONS_WITH_ACCOUNT)) {
      await target.seed<Account>({
        resourceType: 'Account',
        status: 'active',
        name: `Care plan ${subscription}`,
        identifier: [{ system: STRIPE_SYSTEM.subscription, value: subscription }],
      });
    }
  },
};
