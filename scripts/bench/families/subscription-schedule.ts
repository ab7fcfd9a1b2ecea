import { BOT_NAME } from '../../../src/constants';
import type { StripeEvent } from '../../../src/stripe/types';
import { CUSTOMER_ID } from '../../../test/harness/project';
import {
  invoiceLifecycleEvents,
  scheduleLifecycleEvents,
  scheduleSubscriptionId,
  SCHEDULE_LIFECYCLES,
  type ScheduleLifecycle,
} from '../../../lib/stripe-events/events';
import { deliveryStream, pickWeighted } from './stream';
import type { BenchFamily } from './types';

/** Share of each lifecycle among the stream's schedules (about 3.7 schedule events per schedule). */
const LIFECYCLE_WEIGHTS: Record<ScheduleLifecycle, number> = {
  completed: 0.35,
  released: 0.2,
  canceled: 0.15,
  'canceled-before-start': 0.1,
  aborted: 0.2,
};

/** Share of the started schedules that also get one paid invoice of their subscription in the stream. */
const INVOICED_SHARE = 0.15;
const PRICES = ['price_1BenchCarePlan', 'price_1BenchPhysio', 'price_1BenchTherapy'] as const;
const INVOICE_SHAPES = ['openapi', 'openapi-2025-02-24.acacia'] as const;
const DAY = 86_400;

/**
 * `subscription_schedule.*` through stripe-router and stripe-subscription-schedule: many schedules,
 * each with one of the lifecycles of lib/stripe-events (`SCHEDULE_LIFECYCLES`: completed, with its
 * `expiring`; released; canceled; canceled before it started; aborted), one in eight for a customer
 * with no Patient, a third with two phases, starting about every 2 s so that lifecycles overlap.
 * 15 % of the schedules that start also have one paid invoice of their subscription (the full
 * `paid` lifecycle through stripe-invoice, either API shape), starting 0–5 s after the schedule, so
 * that it arrives sometimes before and sometimes after the schedule's `active` event: both sides of
 * the Invoice ↔ Account link run (the schedule bot links waiting Invoices; the invoice bot finds the
 * Account). Delivered in time order, shuffled within windows of 6, with 2 % delivered twice up to 20
 * deliveries later.
 */
export const subscriptionScheduleFamily: BenchFamily = {
  name: 'subscription-schedule',
  description:
    'subscription schedule lifecycles (completed with expiring, released, canceled, canceled before start, aborted), ' +
    "with 15 % of started schedules' invoices interleaved (invoice ↔ Account linking)",
  bots: [BOT_NAME.router, BOT_NAME.subscriptionSchedule, BOT_NAME.invoice],

  makeStream(n: number, seed: number): StripeEvent[] {
    return deliveryStream(n, seed, (k, rand, start) => {
      const objects: StripeEvent[][] = [];
      const lifecycle = pickWeighted(LIFECYCLE_WEIGHTS, rand);
      const tag = `${seed.toString(36)}x${String(k).padStart(6, '0')}`;
      const customer = rand() < 0.875 ? CUSTOMER_ID : `cus_1BenchNoPatient${tag}`;
      // Phases as Stripe sets them: one 30-day phase, or two (an intro month, then the plan).
      const phaseStart = lifecycle === 'canceled-before-start' ? start + DAY : start;
      const phases =
        rand() < 0.33
          ? [
              { start: phaseStart, end: phaseStart + 30 * DAY },
              { start: phaseStart + 30 * DAY, end: phaseStart + 90 * DAY },
            ]
          : [{ start: phaseStart, end: phaseStart + 30 * DAY }];
      const variant = {
        id: `sub_sched_1B${tag}`,
        customer,
        phases,
        priceId: PRICES[Math.floor(rand() * PRICES.length)] as string,
        ...(rand() < 0.5 && { description: 'Monthly care plan' }),
      };
      const steps = SCHEDULE_LIFECYCLES[lifecycle].length;
      const events: StripeEvent[] = scheduleLifecycleEvents(variant, lifecycle, {
        start,
        gaps: Array.from({ length: steps }, () => Math.floor(rand() * 4)),
        ids: Array.from({ length: steps }, (_, i) => `evt_1BS${tag}s${i}`),
      });
      objects.push(events);
      const starts = SCHEDULE_LIFECYCLES[lifecycle].some((step) => step.status === 'active');
      if (starts && rand() < INVOICED_SHARE) {
        const amount = 2_000 + Math.floor(rand() * 20) * 500;
        const invoice = invoiceLifecycleEvents(
          {
            id: `in_1BS${tag}`,
            shape: INVOICE_SHAPES[Math.floor(rand() * INVOICE_SHAPES.length)],
            customer,
            subscription: scheduleSubscriptionId(variant),
            amount,
            tax: rand() < 0.3 ? Math.round(amount * 0.08) : 0,
          },
          'paid',
          {
            start: start + Math.floor(rand() * 6),
            gaps: Array.from({ length: 6 }, () => Math.floor(rand() * 4)),
            ids: Array.from({ length: 6 }, (_, i) => `evt_1BS${tag}i${i}`),
          }
        );
        objects.push(invoice);
      }
      return objects;
    });
  },
};
