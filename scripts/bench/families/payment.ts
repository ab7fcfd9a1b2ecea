import type { Invoice } from '@medplum/fhirtypes';
import { BOT_NAME, STRIPE_SYSTEM } from '../../../src/constants';
import type { StripeEvent, StripePaymentIntent, StripeRefund } from '../../../src/stripe/types';
import type { FixtureShape } from '../../../lib/stripe-events/fixtures';
import { CUSTOMER_ID } from '../../../test/harness/project';
import {
  buildCharge,
  buildInvoicePayment,
  buildPaymentIntent,
  buildRefund,
  wrapShapedEvent,
  type PaymentVariant,
} from '../../../lib/stripe-events/events';
import { deliveryStream, pickWeighted } from './stream';
import type { BenchFamily } from './types';

/**
 * How a payment intent goes (about 3.2 events per intent with its invoice payment and refunds):
 * a card paid at once; a delayed method (`processing` first); a first attempt that failed, then
 * paid; abandoned (canceled with no payment).
 */
type PaymentLifecycle = 'card' | 'delayed' | 'retried' | 'canceled';
type IntentStatus = StripePaymentIntent['status'];

const LIFECYCLE_WEIGHTS: Record<PaymentLifecycle, number> = { card: 0.5, delayed: 0.25, retried: 0.1, canceled: 0.15 };

const LIFECYCLE_STEPS: Record<PaymentLifecycle, readonly (readonly [string, IntentStatus])[]> = {
  card: [
    ['payment_intent.created', 'requires_payment_method'],
    ['payment_intent.succeeded', 'succeeded'],
  ],
  delayed: [
    ['payment_intent.created', 'requires_payment_method'],
    ['payment_intent.processing', 'processing'],
    ['payment_intent.succeeded', 'succeeded'],
  ],
  retried: [
    ['payment_intent.created', 'requires_payment_method'],
    ['payment_intent.payment_failed', 'requires_payment_method'],
    ['payment_intent.succeeded', 'succeeded'],
  ],
  canceled: [
    ['payment_intent.created', 'requires_payment_method'],
    ['payment_intent.canceled', 'canceled'],
  ],
};

/** Invoices the invoice bot stored before the stream (seeded): payments of them get a literal link. */
const STORED_INVOICES = Array.from({ length: 500 }, (_, i) => `in_1BenchPay${String(i).padStart(4, '0')}`);
/** Of the paid intents: share that pays an invoice, and of those, share whose Invoice is stored. */
const PAYS_INVOICE = 0.5;
const INVOICE_STORED = 0.7;
/** Of the paid intents, share refunded; then how many refunds, and how each goes. */
const REFUNDED = 0.2;
const REFUND_COUNT_WEIGHTS = { one: 0.7, two: 0.25, three: 0.05 } as const;
const REFUND_COUNTS = { one: 1, two: 2, three: 3 } as const;
const REFUND_PATH_WEIGHTS = { immediate: 0.55, pending: 0.4, failed: 0.05 } as const;
const REFUND_DIVISORS = [4, 5, 10] as const;
const CURRENCIES = ['usd', 'usd', 'usd', 'usd', 'eur', 'gbp', 'jpy', 'kwd'] as const;
const SHAPES: readonly FixtureShape[] = ['openapi', 'openapi-2025-02-24.acacia'];

/**
 * Payments through stripe-router and stripe-payment-intent: payment intents (created; processing
 * or a failed attempt for some; succeeded, or canceled with no payment), either API shape, in
 * several currencies. Half of the paid intents pay an invoice — 70 % of those one of 500 Invoices
 * seeded as the invoice bot would have stored them (literal link), the rest one not stored
 * (logical link) — named by `invoice_payment.paid` in the same second on the current API and by
 * `payment_intent.invoice` on the pre-2025 one. A fifth of the paid intents are refunded, partly
 * or fully, once to three times: `refund.created` (pending then `refund.updated` succeeded, or
 * succeeded at once; 5 % pending then failed), each success followed by the `charge.refunded` that
 * both API versions send without a refund list. Intents start about every 2 s so that they overlap;
 * delivered in time order, shuffled within windows of 6, with 2 % delivered twice up to 20
 * deliveries later.
 */
export const paymentFamily: BenchFamily = {
  name: 'payment',
  description:
    'payment intents (succeeded, delayed, retried, canceled), invoice_payment.paid, partial and multiple refunds, both API shapes',
  bots: [BOT_NAME.router, BOT_NAME.paymentIntent],

  makeStream(n: number, seed: number): StripeEvent[] {
    return deliveryStream(n, seed, (k, rand, start) => {
      const objects: StripeEvent[][] = [];
      const lifecycle = pickWeighted(LIFECYCLE_WEIGHTS, rand);
      const tag = `${seed.toString(36)}x${String(k).padStart(6, '0')}`;
      const shape = pick(SHAPES, rand);
      const currency = pick(CURRENCIES, rand);
      const paysInvoice = lifecycle !== 'canceled' && rand() < PAYS_INVOICE;
      const invoice = paysInvoice
        ? rand() < INVOICE_STORED
          ? pick(STORED_INVOICES, rand)
          : `in_1BP${tag}`
        : undefined;
      const variant: PaymentVariant = {
        id: `pi_1BP${tag}`,
        shape,
        amount: 1_000 + Math.floor(rand() * 60) * 250,
        currency,
        customer: rand() < 0.9 ? CUSTOMER_ID : `cus_1BenchNoPatient${tag}`,
        ...(invoice && { invoice }),
      };
      const events: StripeEvent[] = [];
      let step = 0;
      const event = (type: string, object: { object: string }, at: number): void => {
        events.push(wrapShapedEvent(type, object, shape, { id: `evt_1BP${tag}s${step++}`, created: at }));
      };
      let at = start;
      for (const [i, [type, status]] of LIFECYCLE_STEPS[lifecycle].entries()) {
        at += i === 0 ? 0 : Math.floor(rand() * 4);
        event(type, buildPaymentIntent(variant, status, at, { created: start }), at);
        if (status === 'succeeded' && invoice && shape === 'openapi') {
          // The current API names the invoice in its own event, sent in the same second.
          event('invoice_payment.paid', buildInvoicePayment({ ...variant, invoice }, at), at);
        }
      }
      if (lifecycle !== 'canceled' && rand() < REFUNDED) {
        refundEvents(variant, at, rand, event);
      }
      objects.push(events);
      return objects;
    });
  },

  async seed(target, project) {
    for (const [i, id] of STORED_INVOICES.entries()) {
      await target.seed<Invoice>({
        resourceType: 'Invoice',
        status: 'issued',
        identifier: [{ system: STRIPE_SYSTEM.invoice, value: id }],
        subject: { reference: `Patient/${project.patientId}` },
        issuer: { reference: `Organization/${project.payeeId}` },
        date: new Date((1_759_990_000 + i * 60) * 1000).toISOString(),
        totalGross: { value: 50, currency: 'USD' },
      });
    }
  },
};

function pick<T>(items: readonly T[], rand: () => number): T {
  return items[Math.floor(rand() * items.length)] as T;
}

/**
 * One to three refunds of a paid intent, 5–60 s after it was paid, partial unless a single refund
 * of the whole amount (a third of single refunds), added to the intent's events through `event`.
 */
function refundEvents(
  variant: PaymentVariant,
  paidAt: number,
  rand: () => number,
  event: (type: string, object: { object: string }, at: number) => void
): void {
  const amount = variant.amount ?? 5000;
  const count = REFUND_COUNTS[pickWeighted(REFUND_COUNT_WEIGHTS, rand)];
  const full = count === 1 && rand() < 1 / 3;
  const chargeId = `ch_${variant.id.slice(3)}`;
  const succeeded: StripeRefund[] = [];
  let at = paidAt;
  for (let r = 0; r < count; r++) {
    at += 5 + Math.floor(rand() * 56);
    const refund = {
      id: `re_${variant.id.slice(3)}r${r}`,
      // Partial refunds of a quarter, a fifth or a tenth of the amount: never more than paid in all.
      amount: full ? amount : Math.max(1, Math.floor(amount / pick(REFUND_DIVISORS, rand))),
      currency: variant.currency ?? 'usd',
      paymentIntent: variant.id,
      charge: chargeId,
      created: at,
    };
    const path = pickWeighted(REFUND_PATH_WEIGHTS, rand);
    if (path === 'immediate') {
      event('refund.created', buildRefund(refund, 'succeeded'), at);
    } else {
      event('refund.created', buildRefund(refund, 'pending'), at);
      at += 1 + Math.floor(rand() * 5);
      event('refund.updated', buildRefund(refund, path === 'pending' ? 'succeeded' : 'failed'), at);
    }
    if (path !== 'failed') {
      succeeded.push(buildRefund(refund, 'succeeded'));
      // API versions since 2022-11-15 send charge.refunded without the refund list: routed, then ignored.
      event('charge.refunded', buildCharge(variant, paidAt, succeeded, { includeRefunds: false }), at);
    }
  }
}
