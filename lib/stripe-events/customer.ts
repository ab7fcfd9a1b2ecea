/**
 * Builders of customer and Checkout Session events from Stripe's own fixtures (both API shapes),
 * shared by the tests and the benchmarks.
 */
import type { StripeCheckoutSession, StripeCustomer, StripeEvent } from '../../src/stripe/types';
import { wrapShapedEvent } from './events';
import { loadStripeFixture, type FixtureShape } from './fixtures';

export interface CustomerVariant {
  /** `cus_…`. */
  readonly id: string;
  readonly shape?: FixtureShape;
  readonly metadata?: Record<string, string>;
  readonly created?: number;
}

/**
 * A customer built from Stripe's fixture of the given shape. Changes: `id`, `metadata` (empty in
 * the fixture) and `created` (placeholder 1234567890) to the variant's; the current shape's
 * placeholder `discount` (an `obj_123` coupon discount) to null; for `customer.deleted`,
 * `deleted: true` as Stripe sends it on a deleted customer.
 */
export function buildCustomer(variant: CustomerVariant, options: { deleted?: boolean } = {}): StripeCustomer {
  const base = loadStripeFixture<Record<string, unknown>>(variant.shape ?? 'openapi', 'customer');
  return {
    ...base,
    id: variant.id,
    metadata: variant.metadata ?? {},
    created: variant.created ?? 1_760_000_000,
    discount: null,
    ...(options.deleted && { deleted: true }),
  } as unknown as StripeCustomer;
}

export type CustomerEventType = 'customer.created' | 'customer.updated' | 'customer.deleted';

export function customerEvent(
  type: CustomerEventType,
  variant: CustomerVariant,
  options: { id?: string; created?: number } = {}
): StripeEvent<StripeCustomer> {
  const customer = buildCustomer(variant, { deleted: type === 'customer.deleted' });
  return wrapShapedEvent(type, customer, variant.shape ?? 'openapi', {
    created: options.created ?? (variant.created ?? 1_760_000_000) + 1,
    ...(options.id && { id: options.id }),
  });
}

export type SessionOutcome = 'paid' | 'pending' | 'failed' | 'expired' | 'no_payment_required';

export interface SessionVariant {
  /** `cs_…`. */
  readonly id: string;
  readonly shape?: FixtureShape;
  readonly mode?: 'payment' | 'subscription' | 'setup';
  readonly customer?: string | null;
  readonly clientReferenceId?: string | null;
  readonly metadata?: Record<string, string>;
  readonly paymentIntent?: string | null;
  readonly subscription?: string | null;
  readonly invoice?: string | null;
  readonly paymentLink?: string | null;
  /** Minor units. */
  readonly amount?: number;
  readonly tax?: number;
  readonly currency?: string;
  readonly created?: number;
}

/**
 * A Checkout Session built from Stripe's fixture of the given shape. The fixture is an open,
 * unpaid `mode=payment` session with placeholder amounts (null totals, random shipping and tax
 * figures), so this changes: the ids (session, customer, payment intent, subscription, invoice,
 * Payment Link); `mode`; `status` and `payment_status` to the outcome (`complete`/`paid`,
 * `complete`/`unpaid` while an async payment is pending or after it failed, `expired`/`unpaid`,
 * `complete`/`no_payment_required`); `amount_subtotal`/`amount_total` and `total_details` to the
 * variant's amount and tax; `currency`; the placeholder `shipping_cost` and
 * `currency_conversion` to null; `client_reference_id` and `metadata`; `created`.
 */
export function buildCheckoutSession(variant: SessionVariant, outcome: SessionOutcome): StripeCheckoutSession {
  const base = loadStripeFixture<Record<string, unknown>>(variant.shape ?? 'openapi', 'checkout.session');
  const mode = variant.mode ?? 'payment';
  const amount = variant.amount ?? 5000;
  const tax = variant.tax ?? 0;
  const status = outcome === 'expired' ? 'expired' : 'complete';
  const paymentStatus =
    outcome === 'paid' ? 'paid' : outcome === 'no_payment_required' ? 'no_payment_required' : 'unpaid';
  return {
    ...base,
    id: variant.id,
    mode,
    status,
    payment_status: mode === 'setup' ? 'no_payment_required' : paymentStatus,
    amount_subtotal: mode === 'setup' ? null : amount - tax,
    amount_total: mode === 'setup' ? null : amount,
    currency: mode === 'setup' ? null : (variant.currency ?? 'usd'),
    total_details: mode === 'setup' ? null : { amount_discount: 0, amount_shipping: 0, amount_tax: tax },
    shipping_cost: null,
    currency_conversion: null,
    customer: variant.customer === undefined ? 'cus_TestPatient1' : variant.customer,
    client_reference_id: variant.clientReferenceId ?? null,
    metadata: variant.metadata ?? {},
    payment_intent: mode === 'payment' ? (variant.paymentIntent ?? `pi_${variant.id.slice(3)}`) : null,
    subscription: mode === 'subscription' ? (variant.subscription ?? `sub_${variant.id.slice(3)}`) : null,
    invoice: variant.invoice ?? null,
    payment_link: variant.paymentLink ?? null,
    created: variant.created ?? 1_760_000_000,
  } as unknown as StripeCheckoutSession;
}

const OUTCOME_EVENT: Record<SessionOutcome, string> = {
  paid: 'checkout.session.completed',
  pending: 'checkout.session.completed',
  no_payment_required: 'checkout.session.completed',
  failed: 'checkout.session.async_payment_failed',
  expired: 'checkout.session.expired',
};

export function sessionEvent(
  variant: SessionVariant,
  outcome: SessionOutcome,
  options: { id?: string; created?: number; type?: string } = {}
): StripeEvent<StripeCheckoutSession> {
  return wrapShapedEvent(
    options.type ?? OUTCOME_EVENT[outcome],
    buildCheckoutSession(variant, outcome),
    variant.shape ?? 'openapi',
    { created: options.created ?? (variant.created ?? 1_760_000_000) + 60, ...(options.id && { id: options.id }) }
  );
}
