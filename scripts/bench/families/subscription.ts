import { BOT_NAME } from '../../../src/constants';
import type { StripeEvent } from '../../../src/stripe/types';
import { CUSTOMER_ID } from '../../../test/harness/project';
import { invoiceLifecycleEvents, scheduleLifecycleEvents } from '../../../lib/stripe-events/events';
import {
  SUBSCRIPTION_LIFECYCLES,
  subscriptionLifecycleEvents,
  type SubscriptionLifecycle,
} from '../../../lib/stripe-events/subscription';
import { deliveryStream, pickWeighted } from './stream';
import type { BenchFamily } from './types';

/** Share of each lifecycle among the stream's subscriptions (about 3.3 subscription events each). */
const LIFECYCLE_WEIGHTS: Record<SubscriptionLifecycle, number> = {
  'past-due-then-canceled': 0.25,
  trial: 0.25,
  'paused-resumed': 0.15,
  expired: 0.1,
  upgraded: 0.25,
};

/** Share of subscriptions started by a schedule (whose events then share the Account). */
const SCHEDULED_SHARE = 0.2;
/** Share of subscriptions with one paid invoice in the stream. */
const INVOICED_SHARE = 0.2;
const SHAPES = ['openapi', 'openapi-2025-02-24.acacia'] as const;

/**
 * `customer.subscription.*` through stripe-router and stripe-subscription: many subscriptions, each
 * with one of the lifecycles of lib/stripe-events/subscription.ts (incomplete → active → past_due →
 * active → canceled; trial; paused and resumed; incomplete_expired; an upgrade), either API shape,
 * one in eight for a customer with no Patient. A fifth are started by a schedule (created a second
 * before, `completed` lifecycle, its events through stripe-subscription-schedule, the subscription
 * naming it throughout), so both bots write the shared Account; a fifth have one paid invoice
 * (through stripe-invoice) starting 0–5 s after the subscription, so that both sides of the Invoice ↔
 * Account link run. Delivered in time order, shuffled within windows of 6, with 2 % delivered twice.
 */
export const subscriptionFamily: BenchFamily = {
  name: 'subscription',
  description:
    'subscription lifecycles (past due then canceled, trial, paused/resumed, expired, upgraded), 20 % started by a ' +
    'schedule (shared Account), 20 % with an invoice interleaved (invoice ↔ Account linking)',
  bots: [BOT_NAME.router, BOT_NAME.subscription, BOT_NAME.subscriptionSchedule, BOT_NAME.invoice],

  makeStream(n: number, seed: number): StripeEvent[] {
    return deliveryStream(n, seed, (k, rand, start) => {
      const objects: StripeEvent[][] = [];
      const lifecycle = pickWeighted(LIFECYCLE_WEIGHTS, rand);
      const tag = `${seed.toString(36)}x${String(k).padStart(6, '0')}`;
      const customer = rand() < 0.875 ? CUSTOMER_ID : `cus_1BenchNoPatient${tag}`;
      const shape = SHAPES[Math.floor(rand() * SHAPES.length)] ?? 'openapi';
      const subscriptionId = `sub_1BS${tag}`;
      const scheduleId = rand() < SCHEDULED_SHARE ? `sub_sched_1BS${tag}` : undefined;
      const steps = SUBSCRIPTION_LIFECYCLES[lifecycle].length;
      objects.push(
        subscriptionLifecycleEvents({ id: subscriptionId, shape, customer, schedule: scheduleId ?? null }, lifecycle, {
          start: start + 1,
          gaps: Array.from({ length: steps }, () => Math.floor(rand() * 4)),
          ids: Array.from({ length: steps }, (_, i) => `evt_1BU${tag}s${i}`),
        })
      );
      if (scheduleId) {
        objects.push(
          scheduleLifecycleEvents({ id: scheduleId, subscription: subscriptionId, customer }, 'completed', {
            start,
            gaps: [0, 1, 20, 10],
            ids: Array.from({ length: 5 }, (_, i) => `evt_1BU${tag}x${i}`),
          })
        );
      }
      if (rand() < INVOICED_SHARE) {
        objects.push(
          invoiceLifecycleEvents(
            { id: `in_1BU${tag}`, shape, customer, subscription: subscriptionId, amount: 2_500 },
            'paid',
            {
              start: start + Math.floor(rand() * 6),
              gaps: Array.from({ length: 6 }, () => Math.floor(rand() * 4)),
              ids: Array.from({ length: 6 }, (_, i) => `evt_1BU${tag}i${i}`),
            }
          )
        );
      }
      return objects;
    });
  },
};
