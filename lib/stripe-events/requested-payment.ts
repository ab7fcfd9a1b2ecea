/**
 * A Checkout Session as Stripe makes it for a payment request (the stripe-payment-request bot), and
 * the events Stripe sends when the patient pays it. Built from Stripe's own fixtures; shared by the
 * fake Stripe API (scripts/local/stripe-fake.ts), the tests and the demo.
 */
import type { StripeEvent, StripePaymentIntent } from '../../src/stripe/types';
import { buildPaymentIntent, wrapShapedEvent } from './events';
import { loadStripeFixture, type FixtureShape } from './fixtures';

export interface RequestedSession {
  /** `cs_…`. */
  readonly id: string;
  readonly customer: string;
  readonly clientReferenceId: string | null;
  readonly amount: number;
  readonly currency: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly created: number;
  readonly status: 'open' | 'complete' | 'expired';
  readonly paymentStatus: 'paid' | 'unpaid' | 'no_payment_required';
  /** `pi_…` once paid (Checkout creates the intent when the patient confirms), else null. */
  readonly paymentIntent: string | null;
  readonly successUrl?: string | null;
  readonly cancelUrl?: string | null;
}

/** Sessions expire 24 h after they are made unless asked otherwise. */
export const SESSION_LIFETIME_S = 24 * 60 * 60;

/**
 * A `mode=payment` Checkout Session from Stripe's fixture of the given shape. Changes: id, url,
 * customer, client_reference_id, metadata, amounts (`amount_subtotal` = `amount_total` = the line,
 * `total_details` without discount, shipping or tax), currency, status and payment status,
 * payment intent, created and `expires_at` (24 h later), the URLs; the fixture's placeholder
 * shipping (`shipping_cost`, `shipping_address_collection`, `collected_information`),
 * `currency_conversion`, `invoice_creation`, `custom_text` and promotion recovery are removed or
 * turned off, as on a session made with only the parameters the bot sends.
 */
export function buildRequestedSession(
  session: RequestedSession,
  shape: FixtureShape = 'openapi'
): Record<string, unknown> {
  const base = loadStripeFixture<Record<string, unknown>>(shape, 'checkout.session');
  const built = {
    ...base,
    id: session.id,
    url: session.status === 'open' ? `https://checkout.stripe.com/c/pay/${session.id}` : null,
    customer: session.customer,
    client_reference_id: session.clientReferenceId,
    metadata: { ...session.metadata },
    amount_subtotal: session.amount,
    amount_total: session.amount,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    currency: session.currency,
    status: session.status,
    payment_status: session.paymentStatus,
    payment_intent: session.paymentIntent,
    created: session.created,
    expires_at: session.created + SESSION_LIFETIME_S,
    success_url: session.successUrl ?? null,
    cancel_url: session.cancelUrl ?? null,
    mode: 'payment',
    invoice: null,
    subscription: null,
    payment_link: null,
    shipping_cost: null,
    shipping_address_collection: null,
    shipping_options: [],
    collected_information: null,
    currency_conversion: null,
    invoice_creation: { enabled: false, invoice_data: null },
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    after_expiration: null,
    adaptive_pricing: { enabled: false },
    managed_payments: { enabled: false },
  };
  // Fields of newer API versions stay out of an older shape that lacks them.
  return Object.fromEntries(
    Object.entries(built).filter(([key]) => key in base || NEWER_FIELDS_KEPT.has(key))
  ) as Record<string, unknown>;
}

/** Fields every shape of a session has, whether or not the fixture lists them. */
const NEWER_FIELDS_KEPT = new Set(['id', 'url', 'customer', 'metadata', 'status', 'payment_intent']);

/**
 * What Stripe sends when the patient pays a requested session: `checkout.session.completed` (the
 * session complete and paid) and `payment_intent.succeeded` (the intent of the session, carrying
 * the metadata the bot put in `payment_intent_data.metadata`).
 */
export function paidSessionEvents(
  session: RequestedSession & { readonly paymentIntent: string },
  paymentIntentMetadata: Readonly<Record<string, string>>,
  at: number,
  shape: FixtureShape = 'openapi'
): { completed: StripeEvent; succeeded: StripeEvent<StripePaymentIntent> } {
  const paid = buildRequestedSession({ ...session, status: 'complete', paymentStatus: 'paid' }, shape);
  const intent = {
    ...buildPaymentIntent(
      {
        id: session.paymentIntent,
        shape,
        amount: session.amount,
        currency: session.currency,
        customer: session.customer,
      },
      'succeeded',
      at,
      { created: at - 1 }
    ),
    metadata: { ...paymentIntentMetadata },
  } as StripePaymentIntent;
  return {
    completed: wrapShapedEvent('checkout.session.completed', paid as { object: string }, shape, { created: at }),
    succeeded: wrapShapedEvent('payment_intent.succeeded', intent, shape, { created: at }),
  };
}
