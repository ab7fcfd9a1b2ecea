import { BOT_NAME } from '../constants';

export type RouteDecision = { readonly target: string } | { readonly ignored: string };

/**
 * Stripe event types the router dispatches, by target bot. These are also the event types that
 * setup subscribes the Stripe webhook endpoint to, so nothing is sent that nothing handles.
 */
export const ROUTED_EVENT_TYPES: Readonly<Record<string, readonly string[]>> = {
  [BOT_NAME.invoice]: [
    'invoice.created',
    'invoice.updated',
    'invoice.finalized',
    'invoice.finalization_failed',
    'invoice.sent',
    'invoice.paid',
    'invoice.payment_succeeded',
    'invoice.payment_failed',
    'invoice.payment_action_required',
    'invoice.marked_uncollectible',
    'invoice.voided',
    'invoice.deleted',
    'invoice.overdue',
    'invoice.will_be_due',
  ],
  [BOT_NAME.subscriptionSchedule]: [
    'subscription_schedule.created',
    'subscription_schedule.updated',
    'subscription_schedule.expiring',
    'subscription_schedule.released',
    'subscription_schedule.completed',
    'subscription_schedule.canceled',
    'subscription_schedule.aborted',
  ],
  [BOT_NAME.paymentIntent]: [
    'payment_intent.created',
    'payment_intent.processing',
    'payment_intent.requires_action',
    'payment_intent.amount_capturable_updated',
    'payment_intent.partially_funded',
    'payment_intent.payment_failed',
    'payment_intent.succeeded',
    'payment_intent.canceled',
    'invoice_payment.paid',
    'refund.created',
    'refund.updated',
    'refund.failed',
    'charge.refunded',
    'charge.refund.updated',
  ],
  [BOT_NAME.customer]: [
    'customer.created',
    'customer.updated',
    'customer.deleted',
    'checkout.session.completed',
    'checkout.session.async_payment_succeeded',
    'checkout.session.async_payment_failed',
    'checkout.session.expired',
  ],
  [BOT_NAME.subscription]: [
    'customer.subscription.created',
    'customer.subscription.updated',
    'customer.subscription.deleted',
    'customer.subscription.paused',
    'customer.subscription.resumed',
    'customer.subscription.pending_update_applied',
    'customer.subscription.pending_update_expired',
    'customer.subscription.trial_will_end',
  ],
};

const TARGET_BY_TYPE = new Map(
  Object.entries(ROUTED_EVENT_TYPES).flatMap(([target, types]) => types.map((type) => [type, target] as const))
);

/** Families we route by prefix, so that an invoice event type Stripe adds later still reaches its bot. */
const TARGET_BY_PREFIX: readonly (readonly [string, string])[] = [
  ['invoice.', BOT_NAME.invoice],
  ['subscription_schedule.', BOT_NAME.subscriptionSchedule],
  ['payment_intent.', BOT_NAME.paymentIntent],
  ['refund.', BOT_NAME.paymentIntent],
  ['checkout.session.', BOT_NAME.customer],
  ['customer.subscription.', BOT_NAME.subscription],
];

/** Families ignored by prefix, checked after the target prefixes (so `customer.subscription.` can be routed). */
const IGNORED_PREFIXES: readonly (readonly [string, string])[] = [
  [
    'customer.',
    'only customer.created, customer.updated and customer.deleted concern the Patient link; other customer events (tax ids, discounts, sources…) are not mapped',
  ],
];

const IGNORED_TYPES: Readonly<Record<string, string>> = {
  'invoice.upcoming': 'invoice.upcoming previews an invoice that does not exist yet (it has no id)',
};

export function routeEvent(type: string): RouteDecision {
  const ignoredReason = IGNORED_TYPES[type];
  if (ignoredReason) {
    return { ignored: ignoredReason };
  }
  const target = TARGET_BY_TYPE.get(type) ?? TARGET_BY_PREFIX.find(([prefix]) => type.startsWith(prefix))?.[1];
  if (target) {
    return { target };
  }
  const prefixReason = IGNORED_PREFIXES.find(([prefix]) => type.startsWith(prefix))?.[1];
  return { ignored: prefixReason ?? `no bot handles ${type} events` };
}
