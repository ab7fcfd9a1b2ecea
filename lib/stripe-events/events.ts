/**
 * Builders of Stripe events from Stripe's own fixtures (test/fixtures/stripe), shared by the tests,
 * the benchmarks and the demo stream
 * generator (scripts/local/demo-stream.ts). The demo itself reads the generated demo/stream.json.
 */
import type { StripeEvent, StripeInvoice, StripeSubscriptionSchedule } from '../../src/stripe/types';
import type { StripeCharge, StripeInvoicePayment, StripePaymentIntent, StripeRefund } from '../../src/stripe/types';
import { loadStripeFixture, type FixtureShape } from './fixtures';

export { signatureHeader, stripeBody, stripeOracle } from './signature';

let sequence = 0;

/** A Stripe-looking event id. Stripe's ids are not in time order; neither are these. */
export function eventId(seed?: string): string {
  sequence++;
  const tail = seed ?? Math.random().toString(36).slice(2, 12);
  return `evt_1T${tail}${sequence.toString(36)}`;
}

export function wrapEvent<T extends { object: string }>(
  type: string,
  object: T,
  options: { id?: string; created?: number; livemode?: boolean } = {}
): StripeEvent<T> {
  return {
    id: options.id ?? eventId(),
    object: 'event',
    api_version: '2025-03-31.basil',
    created: options.created ?? Math.floor(Date.now() / 1000),
    data: { object },
    livemode: options.livemode ?? false,
    type,
    ...({ pending_webhooks: 1, request: { id: null, idempotency_key: null } } as object),
  } as StripeEvent<T>;
}

export type InvoiceStatus = 'draft' | 'open' | 'paid' | 'uncollectible' | 'void';

export interface InvoiceVariant {
  readonly id: string;
  readonly shape?: FixtureShape;
  readonly customer?: string;
  readonly subscription?: string | null;
  readonly currency?: string;
  /** Minor units of the single line; totals are made consistent with it. */
  readonly amount?: number;
  readonly tax?: number;
  readonly discount?: number;
  readonly metadata?: Record<string, string>;
  readonly priceId?: string;
}

/**
 * A valid invoice built from Stripe's fixture of the given shape. The fixture is a shape, not
 * consistent data, so this changes: the ids (invoice, customer, subscription, price) from
 * placeholders to real-looking ones; one line whose amount, discount and tax make `subtotal`,
 * `total_excluding_tax` and `total` add up; the subscription placeholder (`"subscription"`) to a
 * real id or none; and `status`/`status_transitions` to the requested stage.
 */
export function buildInvoice(variant: InvoiceVariant, status: InvoiceStatus, at: number): StripeInvoice {
  const shape = variant.shape ?? 'openapi';
  const base = loadStripeFixture<Record<string, unknown>>(shape, 'invoice');
  const currency = variant.currency ?? 'usd';
  const amount = variant.amount ?? 5000;
  const tax = variant.tax ?? 0;
  const discount = variant.discount ?? 0;
  const priceId = variant.priceId ?? 'price_1TestConsult';
  const subscription = variant.subscription ?? null;
  const baseLine = (base.lines as { data: Record<string, unknown>[] }).data[0] as Record<string, unknown>;
  const line: Record<string, unknown> = {
    ...baseLine,
    id: `il_${variant.id.slice(3)}`,
    invoice: variant.id,
    amount,
    currency,
    description: 'Monthly care plan',
    discount_amounts: discount ? [{ amount: discount, discount: 'di_test' }] : [],
  };
  if (shape === 'openapi') {
    line.pricing = {
      type: 'price_details',
      price_details: { price: priceId, product: 'prod_TestCare' },
      unit_amount_decimal: String(amount),
    };
    line.taxes = tax ? [{ amount: tax, tax_behavior: 'exclusive', type: 'tax_rate_details' }] : [];
    line.parent = subscription
      ? {
          type: 'subscription_item_details',
          subscription_item_details: {
            subscription,
            subscription_item: 'si_test',
            invoice_item: null,
            proration: false,
            proration_details: { credited_items: null },
          },
        }
      : {
          type: 'invoice_item_details',
          invoice_item_details: {
            invoice_item: 'ii_test',
            proration: false,
            proration_details: { credited_items: null },
            subscription: null,
          },
        };
  } else {
    line.price = { ...(baseLine.price as object), id: priceId, currency, unit_amount: amount };
    line.tax_amounts = tax ? [{ amount: tax, inclusive: false, tax_rate: 'txr_test' }] : [];
    line.subscription = subscription;
  }
  const subtotal = amount;
  const totalExcludingTax = amount - discount;
  const transitions = {
    finalized_at: status === 'draft' ? null : at,
    paid_at: status === 'paid' ? at : null,
    voided_at: status === 'void' ? at : null,
    marked_uncollectible_at: status === 'uncollectible' ? at : null,
  };
  const invoice: Record<string, unknown> = {
    ...base,
    id: variant.id,
    customer: variant.customer ?? 'cus_TestPatient1',
    currency,
    status,
    status_transitions: transitions,
    created: at,
    metadata: variant.metadata ?? {},
    lines: { object: 'list', data: [line], has_more: false, url: `/v1/invoices/${variant.id}/lines` },
    subtotal,
    subtotal_excluding_tax: subtotal,
    total_excluding_tax: totalExcludingTax,
    total: totalExcludingTax + tax,
    amount_due: totalExcludingTax + tax,
    amount_paid: status === 'paid' ? totalExcludingTax + tax : 0,
    amount_remaining: status === 'paid' ? 0 : totalExcludingTax + tax,
  };
  if (shape === 'openapi') {
    invoice.parent = subscription
      ? { type: 'subscription_details', subscription_details: { subscription, metadata: {} }, quote_details: null }
      : null;
    invoice.subscription = null;
  } else {
    invoice.subscription = subscription;
    invoice.subscription_details = subscription ? { metadata: {} } : null;
  }
  return invoice as unknown as StripeInvoice;
}

export type InvoiceLifecycle = 'paid' | 'voided' | 'uncollectible-then-paid' | 'deleted';

/** One step of a lifecycle: an event type, the status it leaves, seconds after the start. */
interface Step {
  readonly type: string;
  readonly status: InvoiceStatus;
}

export const INVOICE_LIFECYCLES: Record<InvoiceLifecycle, readonly Step[]> = {
  paid: [
    { type: 'invoice.created', status: 'draft' },
    { type: 'invoice.updated', status: 'draft' },
    { type: 'invoice.finalized', status: 'open' },
    { type: 'invoice.sent', status: 'open' },
    { type: 'invoice.paid', status: 'paid' },
    { type: 'invoice.payment_succeeded', status: 'paid' },
  ],
  voided: [
    { type: 'invoice.created', status: 'draft' },
    { type: 'invoice.finalized', status: 'open' },
    { type: 'invoice.voided', status: 'void' },
  ],
  'uncollectible-then-paid': [
    { type: 'invoice.created', status: 'draft' },
    { type: 'invoice.finalized', status: 'open' },
    { type: 'invoice.payment_failed', status: 'open' },
    { type: 'invoice.marked_uncollectible', status: 'uncollectible' },
    { type: 'invoice.paid', status: 'paid' },
  ],
  deleted: [
    { type: 'invoice.created', status: 'draft' },
    { type: 'invoice.updated', status: 'draft' },
    { type: 'invoice.deleted', status: 'draft' },
  ],
};

/**
 * The events Stripe sends for one invoice's lifecycle, in the order they happened. `gaps[i]` is
 * the seconds between step i and i+1 (0 puts them in the same second); missing gaps are 1.
 */
export function invoiceLifecycleEvents(
  variant: InvoiceVariant,
  lifecycle: InvoiceLifecycle,
  options: { start?: number; gaps?: readonly number[]; ids?: readonly string[] } = {}
): StripeEvent<StripeInvoice>[] {
  const start = options.start ?? 1_760_000_000;
  let at = start;
  let finalizedAt: number | null = null;
  return INVOICE_LIFECYCLES[lifecycle].map((step, i) => {
    if (i > 0) {
      at += options.gaps?.[i - 1] ?? 1;
    }
    if (step.status !== 'draft') {
      finalizedAt ??= at;
    }
    const invoice = buildInvoice(variant, step.status, at);
    const object: StripeInvoice = {
      ...invoice,
      created: start,
      status_transitions: { ...invoice.status_transitions, finalized_at: finalizedAt },
    };
    return wrapEvent(step.type, object, { created: at, ...(options.ids?.[i] && { id: options.ids[i] }) });
  });
}

export type ScheduleStatus = StripeSubscriptionSchedule['status'];

export interface SchedulePhaseVariant {
  /** Unix seconds. */
  readonly start: number;
  /** Unix seconds; null or missing: an open-ended phase. */
  readonly end?: number | null;
}

export interface ScheduleVariant {
  readonly id: string;
  /** Defaults to the test Patient's customer, `cus_TestPatient1`. */
  readonly customer?: string;
  /** The subscription Stripe creates when the schedule starts (default derived from the schedule id). */
  readonly subscription?: string;
  readonly metadata?: Record<string, string>;
  /** Defaults to one 30-day phase that starts at the schedule's creation. */
  readonly phases?: readonly SchedulePhaseVariant[];
  readonly description?: string;
  readonly priceId?: string;
}

export interface ScheduleBuildOptions {
  /** The schedule's `created` (default: `at`). */
  readonly created?: number;
  /** Whether the schedule had started (had a subscription) before it reached `status`. */
  readonly started?: boolean;
}

const DAY = 86_400;

/** The subscription id of a schedule variant: given, or `sub_<tail of the schedule id>`. */
export function scheduleSubscriptionId(variant: ScheduleVariant): string {
  return variant.subscription ?? `sub_${variant.id.replace(/^sub_sched_/, '')}`;
}

/**
 * A valid subscription schedule built from Stripe's fixture (openapi/subscription_schedule.json;
 * Stripe publishes no pre-basil fixture of it). The fixture is a shape, not consistent data, so this
 * changes: the id, customer and price from placeholders to real-looking ones (customer = the test
 * Patient's `cus_TestPatient1` unless given); the phases' dates to the requested ones (each item keeps
 * the fixture's shape); `status` to the requested one, with what Stripe sets alongside it:
 * `subscription` once started (null before, and after a release), `released_subscription` after a
 * release, `current_phase` only while active, and `canceled_at`/`completed_at`/`released_at` (the
 * fixture's placeholder `1234567890` in all three) only for the matching status, at `at`.
 */
export function buildSubscriptionSchedule(
  variant: ScheduleVariant,
  status: ScheduleStatus,
  at: number,
  options: ScheduleBuildOptions = {}
): StripeSubscriptionSchedule {
  const base = loadStripeFixture<Record<string, unknown>>('openapi', 'subscription_schedule');
  const created = options.created ?? at;
  const basePhase = (base.phases as Record<string, unknown>[])[0] as Record<string, unknown>;
  const baseItem = (basePhase.items as Record<string, unknown>[])[0] as Record<string, unknown>;
  const phaseDates = variant.phases ?? [{ start: created, end: created + 30 * DAY }];
  const phases = phaseDates.map((phase) => ({
    ...basePhase,
    start_date: phase.start,
    end_date: phase.end ?? null,
    items: [{ ...baseItem, price: variant.priceId ?? 'price_1TestCarePlan' }],
  }));
  const started = options.started || status === 'active' || status === 'completed';
  const subscription = scheduleSubscriptionId(variant);
  const current = phaseDates.find((p) => p.start <= at && (p.end ?? Infinity) > at) ?? phaseDates[0];
  const schedule: Record<string, unknown> = {
    ...base,
    id: variant.id,
    customer: variant.customer ?? 'cus_TestPatient1',
    created,
    status,
    metadata: variant.metadata ?? {},
    default_settings: {
      ...(base.default_settings as object),
      description: variant.description ?? null,
      transfer_data: null,
    },
    phases,
    current_phase:
      status === 'active' && current
        ? { start_date: current.start, end_date: current.end ?? current.start + DAY }
        : null,
    subscription: started && status !== 'released' ? subscription : null,
    released_subscription: status === 'released' ? subscription : null,
    canceled_at: status === 'canceled' ? at : null,
    completed_at: status === 'completed' ? at : null,
    released_at: status === 'released' ? at : null,
  };
  return schedule as unknown as StripeSubscriptionSchedule;
}

export type ScheduleLifecycle = 'completed' | 'released' | 'canceled' | 'canceled-before-start' | 'aborted';

interface ScheduleStep {
  readonly type: string;
  readonly status: ScheduleStatus;
}

/** Stripe sends no event type of its own when a schedule starts: `updated` carries status `active`. */
export const SCHEDULE_LIFECYCLES: Record<ScheduleLifecycle, readonly ScheduleStep[]> = {
  completed: [
    { type: 'subscription_schedule.created', status: 'not_started' },
    { type: 'subscription_schedule.updated', status: 'not_started' },
    { type: 'subscription_schedule.updated', status: 'active' },
    { type: 'subscription_schedule.expiring', status: 'active' },
    { type: 'subscription_schedule.completed', status: 'completed' },
  ],
  released: [
    { type: 'subscription_schedule.created', status: 'not_started' },
    { type: 'subscription_schedule.updated', status: 'active' },
    { type: 'subscription_schedule.released', status: 'released' },
  ],
  canceled: [
    { type: 'subscription_schedule.created', status: 'not_started' },
    { type: 'subscription_schedule.updated', status: 'active' },
    { type: 'subscription_schedule.canceled', status: 'canceled' },
  ],
  'canceled-before-start': [
    { type: 'subscription_schedule.created', status: 'not_started' },
    { type: 'subscription_schedule.updated', status: 'not_started' },
    { type: 'subscription_schedule.canceled', status: 'canceled' },
  ],
  // An aborted schedule's object says `canceled`; only the event type says `aborted`.
  aborted: [
    { type: 'subscription_schedule.created', status: 'not_started' },
    { type: 'subscription_schedule.updated', status: 'active' },
    { type: 'subscription_schedule.aborted', status: 'canceled' },
  ],
};

/**
 * The events Stripe sends for one schedule's lifecycle, in the order they happened. `gaps[i]` is the
 * seconds between step i and i+1 (0 puts them in the same second); missing gaps are 1. Without
 * `variant.phases`, a schedule canceled before it starts gets one phase that starts a day later.
 */
export function scheduleLifecycleEvents(
  variant: ScheduleVariant,
  lifecycle: ScheduleLifecycle,
  options: { start?: number; gaps?: readonly number[]; ids?: readonly string[] } = {}
): StripeEvent<StripeSubscriptionSchedule>[] {
  const start = options.start ?? 1_760_000_000;
  const phases =
    variant.phases ??
    (lifecycle === 'canceled-before-start'
      ? [{ start: start + DAY, end: start + 31 * DAY }]
      : [{ start, end: start + 30 * DAY }]);
  let at = start;
  let started = false;
  return SCHEDULE_LIFECYCLES[lifecycle].map((step, i) => {
    if (i > 0) {
      at += options.gaps?.[i - 1] ?? 1;
    }
    started ||= step.status === 'active';
    const object = buildSubscriptionSchedule({ ...variant, phases }, step.status, at, { created: start, started });
    return wrapEvent(step.type, object, { created: at, ...(options.ids?.[i] && { id: options.ids[i] }) });
  });
}

/** The API version a fixture shape stands for, for the events that carry it. */
export const SHAPE_API_VERSION: Record<FixtureShape, string> = {
  openapi: '2025-03-31.basil',
  'openapi-2025-02-24.acacia': '2025-02-24.acacia',
};

export interface PaymentVariant {
  /** `pi_…`. */
  readonly id: string;
  readonly shape?: FixtureShape;
  readonly amount?: number;
  readonly currency?: string;
  readonly customer?: string;
  /** The invoice the intent pays; written into `payment_intent.invoice` / `charge.invoice` in the pre-2025 shape only. */
  readonly invoice?: string | null;
  /** `ch_…` of the intent's charge; defaults to one derived from the intent id. */
  readonly chargeId?: string;
  /** The intent's metadata (empty in the fixture), e.g. a payment request's `medplum_invoice_id`. */
  readonly metadata?: Record<string, string>;
}

function chargeIdOf(variant: PaymentVariant): string {
  return variant.chargeId ?? `ch_${variant.id.slice(3)}`;
}

/**
 * A valid payment intent built from Stripe's fixture of the given shape. The fixture is a
 * `requires_payment_method` intent full of placeholders, so this changes: the ids (intent,
 * customer, latest charge) to real-looking ones; `amount`, `currency` and `status` to the
 * variant's, with `amount_received` = amount only once succeeded and `latest_charge` only once
 * charged; `canceled_at` (placeholder 1234567890) to the time of cancellation or null;
 * `last_payment_error`, `next_action` and `processing` (placeholders) to null unless the status
 * has them; the placeholder `transfer_data` and `payment_method_configuration_details` to null;
 * the client secret to one of the intent; and, in the pre-2025 shape, `invoice` to the variant's.
 */
export function buildPaymentIntent(
  variant: PaymentVariant,
  status: StripePaymentIntent['status'],
  at: number,
  options: { created?: number } = {}
): StripePaymentIntent {
  const shape = variant.shape ?? 'openapi';
  const base = loadStripeFixture<Record<string, unknown>>(shape, 'payment_intent');
  const amount = variant.amount ?? 5000;
  const charged = status === 'succeeded' || status === 'processing' || status === 'requires_capture';
  const intent: Record<string, unknown> = {
    ...base,
    id: variant.id,
    amount,
    amount_received: status === 'succeeded' ? amount : 0,
    amount_capturable: status === 'requires_capture' ? amount : 0,
    currency: variant.currency ?? 'usd',
    customer: variant.customer ?? 'cus_TestPatient1',
    created: options.created ?? at,
    status,
    canceled_at: status === 'canceled' ? at : null,
    cancellation_reason: status === 'canceled' ? 'requested_by_customer' : null,
    client_secret: `${variant.id}_secret_test`,
    last_payment_error: null,
    next_action: status === 'requires_action' ? { type: 'use_stripe_sdk', use_stripe_sdk: {} } : null,
    processing: status === 'processing' ? { type: 'card', card: {} } : null,
    latest_charge: charged ? chargeIdOf(variant) : null,
    payment_method: charged ? 'pm_card_visa' : null,
    payment_method_configuration_details: null,
    transfer_data: null,
    ...(variant.metadata && { metadata: variant.metadata }),
  };
  if (shape === 'openapi-2025-02-24.acacia') {
    intent.invoice = variant.invoice ?? null;
  }
  return intent as unknown as StripePaymentIntent;
}

export interface RefundVariant {
  /** `re_…`. */
  readonly id: string;
  readonly amount: number;
  readonly currency?: string;
  /** The refunded intent; null for a charge made without one. */
  readonly paymentIntent?: string | null;
  readonly charge: string;
  /** When the refund was made (its own `created`). */
  readonly created: number;
}

/**
 * A valid refund built from Stripe's fixture (a succeeded refund of a fixture charge). Changes:
 * the ids, amount, currency, status and `created` to the variant's; `failure_reason` set for a
 * failed refund; `destination_details` left as the fixture has it.
 */
export function buildRefund(variant: RefundVariant, status: NonNullable<StripeRefund['status']>): StripeRefund {
  const base = loadStripeFixture<Record<string, unknown>>('openapi', 'refund');
  return {
    ...base,
    id: variant.id,
    amount: variant.amount,
    currency: variant.currency ?? 'usd',
    charge: variant.charge,
    payment_intent: variant.paymentIntent === undefined ? null : variant.paymentIntent,
    created: variant.created,
    status,
    ...(status === 'failed' && { failure_reason: 'expired_or_canceled_card' }),
  } as unknown as StripeRefund;
}

/**
 * A valid charge of a payment intent, built from Stripe's fixture of the given shape. Changes:
 * the ids (charge, intent, customer) to real-looking ones; the amounts, captured and paid, with
 * `amount_refunded` = the sum of the given refunds that are not failed or canceled (and
 * `refunded` when that is all of it); `refunds.data` to the given refunds (Stripe includes that
 * list on API versions before 2022-11-15 only); the placeholder `source` and `transfer_data` to
 * null; in the pre-2025 shape, `invoice` to the variant's.
 */
export function buildCharge(
  variant: PaymentVariant,
  at: number,
  refunds: readonly StripeRefund[] = [],
  options: { includeRefunds?: boolean } = {}
): StripeCharge {
  const shape = variant.shape ?? 'openapi';
  const base = loadStripeFixture<Record<string, unknown>>(shape, 'charge');
  const amount = variant.amount ?? 5000;
  const id = chargeIdOf(variant);
  const refunded = refunds
    .filter((r) => r.status !== 'failed' && r.status !== 'canceled')
    .reduce((sum, r) => sum + r.amount, 0);
  const charge: Record<string, unknown> = {
    ...base,
    id,
    amount,
    amount_captured: amount,
    amount_refunded: refunded,
    refunded: refunded === amount,
    captured: true,
    paid: true,
    status: 'succeeded',
    currency: variant.currency ?? 'usd',
    customer: variant.customer ?? 'cus_TestPatient1',
    payment_intent: variant.id,
    created: at,
    source: null,
    transfer_data: null,
    refunds: {
      object: 'list',
      data: options.includeRefunds === false ? [] : refunds,
      has_more: false,
      url: `/v1/charges/${id}/refunds`,
    },
  };
  if (options.includeRefunds === false) {
    delete charge.refunds;
  }
  if (shape === 'openapi-2025-02-24.acacia') {
    charge.invoice = variant.invoice ?? null;
  }
  return charge as unknown as StripeCharge;
}

/**
 * A valid InvoicePayment (API 2025-03-31 and later), built from Stripe's fixture, which is all
 * placeholders. Changes: `id` (`inpay_…`), `invoice` (placeholder `"invoice"`), `currency`
 * (placeholder `"currency"`), the amounts (`amount_paid` null and a random `amount_requested`)
 * to the payment's, `payment.payment_intent` (absent) to the intent, `status` (placeholder) to
 * `paid` with `status_transitions.paid_at`, and `created` and `livemode`.
 */
export function buildInvoicePayment(
  variant: PaymentVariant & { readonly invoice: string },
  at: number
): StripeInvoicePayment {
  const base = loadStripeFixture<Record<string, unknown>>('openapi', 'invoice_payment');
  const amount = variant.amount ?? 5000;
  return {
    ...base,
    id: `inpay_${variant.id.slice(3)}`,
    invoice: variant.invoice,
    currency: variant.currency ?? 'usd',
    amount_paid: amount,
    amount_requested: amount,
    payment: { type: 'payment_intent', payment_intent: variant.id },
    status: 'paid',
    status_transitions: { canceled_at: null, paid_at: at },
    created: at,
    livemode: false,
  } as unknown as StripeInvoicePayment;
}

/** `wrapEvent` with the API version of the shape the object was built in. */
export function wrapShapedEvent<T extends { object: string }>(
  type: string,
  object: T,
  shape: FixtureShape,
  options: { id?: string; created?: number } = {}
): StripeEvent<T> {
  return { ...wrapEvent(type, object, options), api_version: SHAPE_API_VERSION[shape] };
}
