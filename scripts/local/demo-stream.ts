import type { Patient } from '@medplum/fhirtypes';
import {
  buildCharge,
  buildInvoice,
  buildInvoicePayment,
  buildPaymentIntent,
  buildRefund,
  buildSubscriptionSchedule,
  wrapShapedEvent,
  type InvoiceStatus,
  type InvoiceVariant,
  type PaymentVariant,
  type ScheduleVariant,
} from '../../lib/stripe-events/events';
import { prng } from '../../lib/prng';
import { STRIPE_SYSTEM } from '../../src/constants';
import type { StripeEvent, StripeInvoice, StripeObject } from '../../src/stripe/types';

/** demo/stream.json: what `npm run demo` delivers. */
export interface DemoStream {
  readonly description: string;
  readonly generatedBy: string;
  readonly seed: number;
  /** Resources that exist before the first event (bots never create Patients). */
  readonly patients: readonly Patient[];
  /** Every event once, in the order they happened (the chronological order of docs/design.md, "Ordering, duplicates, concurrency"). */
  readonly events: readonly StripeEvent<StripeObject>[];
  /**
   * The delivery, as Stripe makes it: event ids shuffled, some delivered twice; the ids of one wave
   * are posted at the same time.
   */
  readonly delivery: readonly (readonly string[])[];
}

export const DEMO_SEED = 20_251_009;
const DAY = 86_400;
/** 2025-10-09T08:53:20Z */
const T0 = 1_760_000_000;

const CUSTOMER = 'cus_TDemoMargeSimpson';
const SCHEDULE: ScheduleVariant = {
  id: 'sub_sched_1SDemoCarePlan',
  subscription: 'sub_1SDemoCarePlan',
  customer: CUSTOMER,
  description: 'Chronic care management, 3 months',
  priceId: 'price_1SDemoCareMonthly',
  phases: [{ start: T0 + 60, end: T0 + 60 + 90 * DAY }],
};
const START = T0 + 60;
const MONTH_1: InvoiceVariant = {
  id: 'in_1SDemoMonth1',
  customer: CUSTOMER,
  subscription: SCHEDULE.subscription,
  amount: 15_000,
  priceId: 'price_1SDemoCareMonthly',
};
const MONTH_2: InvoiceVariant = { ...MONTH_1, id: 'in_1SDemoMonth2' };
const PAYMENT: PaymentVariant & { readonly invoice: string } = {
  id: 'pi_3SDemoMonth1',
  chargeId: 'ch_3SDemoMonth1',
  amount: 15_000,
  customer: CUSTOMER,
  invoice: MONTH_1.id,
};
const REFUND_AT = START + 2 * DAY;
const REFUND = {
  id: 're_3SDemoPartial',
  amount: 5_000,
  paymentIntent: PAYMENT.id,
  charge: 'ch_3SDemoMonth1',
  created: REFUND_AT,
};

/**
 * A patient's month on a subscription schedule, as Stripe reports it: the schedule is created and
 * starts a minute later; its first invoice is drafted, finalized and paid within two seconds (with
 * the payment intent, its charge and the invoice payment); two days later a third of the payment
 * is refunded; a month later the second invoice is issued and awaits payment. Among them, events
 * the pipeline ignores (`charge.succeeded`, which no bot handles, and `charge.refunded`, whose
 * refund list recent API versions leave out).
 */
export function buildDemoStream(seed = DEMO_SEED): DemoStream {
  const random = prng(seed);
  const id = () => `evt_1S${randomId(random, 22)}`;
  const ev = (type: string, object: { object: string }, created: number) =>
    wrapShapedEvent(type, object, 'openapi', { id: id(), created }) as StripeEvent<StripeObject>;
  const schedule = (status: 'not_started' | 'active', at: number) =>
    buildSubscriptionSchedule(SCHEDULE, status, at, { created: T0, started: status === 'active' });
  const invoice = (
    variant: InvoiceVariant,
    status: InvoiceStatus,
    at: number,
    created: number,
    finalized: number | null
  ) => {
    const built = buildInvoice(variant, status, at);
    return {
      ...built,
      created,
      status_transitions: { ...built.status_transitions, finalized_at: finalized },
    } as StripeInvoice;
  };
  const intent = (status: 'requires_payment_method' | 'succeeded', at: number) =>
    buildPaymentIntent(PAYMENT, status, at, { created: START + 1 });
  const month2 = START + 30 * DAY;

  const events = [
    ev('subscription_schedule.created', schedule('not_started', T0), T0),
    ev('subscription_schedule.updated', schedule('active', START), START),
    ev('invoice.created', invoice(MONTH_1, 'draft', START, START, null), START),
    ev('invoice.finalized', invoice(MONTH_1, 'open', START + 1, START, START + 1), START + 1),
    ev('payment_intent.created', intent('requires_payment_method', START + 1), START + 1),
    ev('payment_intent.succeeded', intent('succeeded', START + 2), START + 2),
    ev('charge.succeeded', buildCharge(PAYMENT, START + 2, [], { includeRefunds: false }), START + 2),
    ev('invoice_payment.paid', buildInvoicePayment(PAYMENT, START + 2), START + 2),
    ev('invoice.paid', invoice(MONTH_1, 'paid', START + 2, START, START + 1), START + 2),
    ev('invoice.payment_succeeded', invoice(MONTH_1, 'paid', START + 2, START, START + 1), START + 2),
    ev('refund.created', buildRefund(REFUND, 'pending'), REFUND_AT),
    ev(
      'charge.refunded',
      buildCharge(PAYMENT, START + 2, [buildRefund(REFUND, 'pending')], { includeRefunds: false }),
      REFUND_AT
    ),
    ev('refund.updated', buildRefund(REFUND, 'succeeded'), REFUND_AT + 4),
    ev('invoice.created', invoice(MONTH_2, 'draft', month2, month2, null), month2),
    ev('invoice.finalized', invoice(MONTH_2, 'open', month2 + 3600, month2, month2 + 3600), month2 + 3600),
  ];

  // Stripe's delivery: any order, some events twice (retries), several at once.
  const deliveries = events.map((e) => e.id);
  for (const index of [2, 5, 8, 12]) {
    deliveries.push((events[index] as StripeEvent<StripeObject>).id);
  }
  shuffle(deliveries, random);
  const delivery: string[][] = [];
  for (let i = 0; i < deliveries.length;) {
    const size = 1 + Math.floor(random() * 3);
    delivery.push(deliveries.slice(i, i + size));
    i += size;
  }

  const patient: Patient = {
    resourceType: 'Patient',
    name: [{ given: ['Marge'], family: 'Simpson' }],
    birthDate: '1956-03-19',
    identifier: [{ system: STRIPE_SYSTEM.customer, value: CUSTOMER }],
  };
  return {
    description:
      'One patient on a 3-month care plan (Stripe subscription schedule): the schedule starts, its first invoice is paid, ' +
      'a third of the payment is refunded, the second invoice is issued. Delivered shuffled, with retries and concurrent posts.',
    generatedBy: 'npx tsx scripts/local/generate-demo-stream.ts',
    seed,
    patients: [patient],
    events,
    delivery,
  };
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function randomId(random: () => number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    text += ALPHABET[Math.floor(random() * ALPHABET.length)];
  }
  return text;
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}
