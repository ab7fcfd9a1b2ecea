import Stripe from 'stripe';
import type { StripeEvent, StripeInvoice } from '../../src/stripe/types';
import { loadStripeFixture, type FixtureShape } from './fixtures';

/** The Stripe SDK, used only as an oracle for signatures. */
export const stripeOracle = new Stripe('sk_test_oracle');

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

/** Stripe's own serialisation of an event body. */
export function stripeBody(event: unknown): string {
  return JSON.stringify(event, null, 2);
}

export function signatureHeader(body: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return stripeOracle.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });
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
