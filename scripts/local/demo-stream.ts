import type { Patient } from '@medplum/fhirtypes';
import { customerEvent, sessionEvent, type SessionVariant } from '../../lib/stripe-events/customer';
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
import {
  buildSubscription,
  type SubscriptionItemVariant,
  type SubscriptionStatus,
  type SubscriptionVariant,
} from '../../lib/stripe-events/subscription';
import { prng } from '../../lib/prng';
import type { StripeEvent, StripeInvoice, StripeObject, StripeSubscription } from '../../src/stripe/types';

/** demo/stream.json: what `npm run demo` delivers. */
export interface DemoStream {
  readonly description: string;
  readonly generatedBy: string;
  readonly seed: number;
  /**
   * Resources that exist before the first event (bots never create Patients), with fixed ids: the
   * events name them (`metadata.medplum_patient_id`, `client_reference_id`), so the demo stores them
   * under these ids.
   */
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

/** The demo Patient's id, fixed so that the Stripe customer's metadata and the Payment Link can name it. */
export const DEMO_PATIENT_ID = '0c5d1e7a-2f3b-4c8d-9e6f-1a2b3c4d5e6f';
const CUSTOMER = 'cus_TDemoMargeSimpson';
/** The customer is created (with the Patient's id in its metadata) ten minutes before the schedule. */
const CUSTOMER_AT = T0 - 600;

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

/** A telehealth visit paid the next day through a Payment Link: no Stripe invoice, the Patient's id as client reference. */
const VISIT_AT = T0 + DAY;
const VISIT_PAYMENT: PaymentVariant = { id: 'pi_3SDemoVisit', amount: 7_500, customer: CUSTOMER };
const VISIT_SESSION: SessionVariant = {
  id: 'cs_live_a1SDemoVisit',
  mode: 'payment',
  customer: CUSTOMER,
  clientReferenceId: DEMO_PATIENT_ID,
  paymentIntent: VISIT_PAYMENT.id,
  paymentLink: 'plink_1SDemoTelehealth',
  amount: 7_500,
  created: VISIT_AT,
};

/**
 * A physical therapy subscription (no schedule) started three days after the care plan, upgraded ten
 * days later, set to cancel at the end of its first period two days after that, and ended then.
 */
const THERAPY_AT = T0 + 3 * DAY;
const THERAPY_BASIC: readonly SubscriptionItemVariant[] = [
  { price: 'price_1SDemoTherapyBasic', product: 'prod_SDemoTherapy' },
];
/** The upgrade: another price of the same product, two sessions a week (quantity 2). */
const THERAPY_PLUS: readonly SubscriptionItemVariant[] = [
  { price: 'price_1SDemoTherapyPlus', product: 'prod_SDemoTherapy', quantity: 2 },
];
const THERAPY: SubscriptionVariant = {
  id: 'sub_1SDemoTherapy',
  customer: CUSTOMER,
  description: 'Physical therapy program',
  items: THERAPY_BASIC,
};
const THERAPY_UPGRADE_AT = THERAPY_AT + 10 * DAY;
const THERAPY_CANCEL_AT = THERAPY_AT + 12 * DAY;
/** The end of the first period, when `cancel_at_period_end` ends it. */
const THERAPY_END = THERAPY_AT + 30 * DAY;
const THERAPY_INVOICE: InvoiceVariant = {
  id: 'in_1SDemoTherapy1',
  customer: CUSTOMER,
  subscription: THERAPY.id,
  amount: 8_000,
  priceId: 'price_1SDemoTherapyBasic',
};

/** Events delivered twice (Stripe's retries), by type and object id. */
const REDELIVERED: readonly (readonly [string, string])[] = [
  ['invoice.created', MONTH_1.id],
  ['payment_intent.succeeded', PAYMENT.id],
  ['refund.updated', REFUND.id],
  ['checkout.session.completed', VISIT_SESSION.id],
  ['customer.subscription.deleted', THERAPY.id],
];

/**
 * One patient's first month, as Stripe reports it. The Stripe customer is created with the Patient's
 * id in `metadata.medplum_patient_id` (the Patient carries no Stripe id before). A 3-month care plan
 * (subscription schedule) is created and starts a minute later; its first invoice is drafted,
 * finalized and paid within two seconds (with the payment intent, its charge and the invoice
 * payment); the next day the patient pays a telehealth visit through a Payment Link (a Checkout
 * Session of mode=payment with no Stripe invoice, the Patient's id as `client_reference_id`); two
 * days after the payment a third of it is refunded; on day three a physical therapy subscription
 * (no schedule) starts and its first invoice is paid, it is upgraded ten days later, set to cancel
 * at period end two days after that, and ends at period end; a month after the care plan's start its
 * second invoice is issued and awaits payment. Among them, events the pipeline ignores
 * (`charge.succeeded`, which no bot handles; `charge.refunded`, whose refund list recent API
 * versions leave out; `payment_intent.created`, which moves no money).
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
  const visitIntent = (status: 'requires_payment_method' | 'succeeded', at: number) =>
    buildPaymentIntent(VISIT_PAYMENT, status, at, { created: VISIT_AT + 20 });
  const therapy = (
    status: SubscriptionStatus,
    at: number,
    items: readonly SubscriptionItemVariant[],
    cancel?: { readonly requestedAt: number }
  ): StripeSubscription => {
    const built = buildSubscription({ ...THERAPY, items }, status, at, { created: THERAPY_AT });
    if (!cancel) {
      return built;
    }
    // Canceled at period end: `canceled_at` is when it was asked for, `ended_at` the period's end.
    return {
      ...built,
      cancel_at_period_end: true,
      cancel_at: THERAPY_END,
      canceled_at: cancel.requestedAt,
      ended_at: status === 'canceled' ? THERAPY_END : null,
    } as StripeSubscription;
  };
  const month2 = START + 30 * DAY;
  const customer = { id: CUSTOMER, metadata: { medplum_patient_id: DEMO_PATIENT_ID }, created: CUSTOMER_AT };

  const events = [
    customerEvent('customer.created', customer, { id: id(), created: CUSTOMER_AT + 1 }) as StripeEvent<StripeObject>,
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
    ev('payment_intent.created', visitIntent('requires_payment_method', VISIT_AT + 20), VISIT_AT + 20),
    ev('payment_intent.succeeded', visitIntent('succeeded', VISIT_AT + 31), VISIT_AT + 31),
    sessionEvent(VISIT_SESSION, 'paid', { id: id(), created: VISIT_AT + 32 }) as StripeEvent<StripeObject>,
    ev('refund.created', buildRefund(REFUND, 'pending'), REFUND_AT),
    ev(
      'charge.refunded',
      buildCharge(PAYMENT, START + 2, [buildRefund(REFUND, 'pending')], { includeRefunds: false }),
      REFUND_AT
    ),
    ev('refund.updated', buildRefund(REFUND, 'succeeded'), REFUND_AT + 4),
    ev('customer.subscription.created', therapy('active', THERAPY_AT, THERAPY_BASIC), THERAPY_AT),
    ev('invoice.created', invoice(THERAPY_INVOICE, 'draft', THERAPY_AT, THERAPY_AT, null), THERAPY_AT),
    ev(
      'invoice.finalized',
      invoice(THERAPY_INVOICE, 'open', THERAPY_AT + 1, THERAPY_AT, THERAPY_AT + 1),
      THERAPY_AT + 1
    ),
    ev('invoice.paid', invoice(THERAPY_INVOICE, 'paid', THERAPY_AT + 2, THERAPY_AT, THERAPY_AT + 1), THERAPY_AT + 2),
    ev('customer.subscription.updated', therapy('active', THERAPY_UPGRADE_AT, THERAPY_PLUS), THERAPY_UPGRADE_AT),
    ev(
      'customer.subscription.updated',
      therapy('active', THERAPY_CANCEL_AT, THERAPY_PLUS, { requestedAt: THERAPY_CANCEL_AT }),
      THERAPY_CANCEL_AT
    ),
    ev('invoice.created', invoice(MONTH_2, 'draft', month2, month2, null), month2),
    ev('invoice.finalized', invoice(MONTH_2, 'open', month2 + 3600, month2, month2 + 3600), month2 + 3600),
    ev(
      'customer.subscription.deleted',
      therapy('canceled', THERAPY_END, THERAPY_PLUS, { requestedAt: THERAPY_CANCEL_AT }),
      THERAPY_END
    ),
  ];
  const times = events.map((e) => e.created);
  if (times.some((t, i) => i > 0 && t < (times[i - 1] as number))) {
    throw new Error('the demo events are not in the order they happened');
  }

  // Stripe's delivery: any order, some events twice (retries), several at once.
  const deliveries = events.map((e) => e.id);
  for (const [type, objectId] of REDELIVERED) {
    const event = events.find((e) => e.type === type && e.data.object.id === objectId);
    if (!event) {
      throw new Error(`no ${type} of ${objectId} in the demo stream`);
    }
    deliveries.push(event.id);
  }
  shuffle(deliveries, random);
  const delivery: string[][] = [];
  for (let i = 0; i < deliveries.length;) {
    const size = 1 + Math.floor(random() * 3);
    delivery.push(deliveries.slice(i, i + size));
    i += size;
  }

  // No Stripe identifier: the customer's `metadata.medplum_patient_id` links them (the claim adds it).
  const patient: Patient = {
    resourceType: 'Patient',
    id: DEMO_PATIENT_ID,
    name: [{ given: ['Marge'], family: 'Simpson' }],
    birthDate: '1956-03-19',
  };
  return {
    description:
      "One patient linked to her Stripe customer only by the customer's metadata.medplum_patient_id: a 3-month care plan " +
      '(subscription schedule) whose first invoice is paid and partly refunded and whose second is issued; a telehealth ' +
      'visit paid through a Payment Link; a physical therapy subscription that is paid, upgraded, set to cancel at period ' +
      'end and ended. Delivered shuffled, with retries and concurrent posts.',
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
