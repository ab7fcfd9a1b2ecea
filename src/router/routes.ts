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
};

const TARGET_BY_TYPE = new Map(
  Object.entries(ROUTED_EVENT_TYPES).flatMap(([target, types]) => types.map((type) => [type, target] as const))
);

/** Families we route by prefix, so that an invoice event type Stripe adds later still reaches its bot. */
const TARGET_BY_PREFIX: readonly (readonly [string, string])[] = [['invoice.', BOT_NAME.invoice]];

const IGNORED_TYPES: Readonly<Record<string, string>> = {
  'invoice.upcoming': 'invoice.upcoming previews an invoice that does not exist yet (it has no id)',
};

export function routeEvent(type: string): RouteDecision {
  const ignoredReason = IGNORED_TYPES[type];
  if (ignoredReason) {
    return { ignored: ignoredReason };
  }
  const target = TARGET_BY_TYPE.get(type) ?? TARGET_BY_PREFIX.find(([prefix]) => type.startsWith(prefix))?.[1];
  return target ? { target } : { ignored: `no bot handles ${type} events` };
}
