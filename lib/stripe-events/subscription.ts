/**
 * Builders of `customer.subscription.*` events from Stripe's subscription fixtures, in both payload
 * shapes (test/fixtures/stripe/openapi and openapi-2025-02-24.acacia), shared by the tests and the
 * benchmarks. Which API calls make each event: test/fixtures/stripe/cli-triggers/customer.subscription.*.json.
 */
import type { StripeEvent, StripeSubscription } from '../../src/stripe/types';
import { wrapShapedEvent } from './events';
import { loadStripeFixture, type FixtureShape } from './fixtures';

export type SubscriptionStatus =
  'incomplete' | 'incomplete_expired' | 'trialing' | 'active' | 'past_due' | 'unpaid' | 'paused' | 'canceled';

export interface SubscriptionItemVariant {
  readonly id?: string;
  readonly price: string;
  readonly product: string;
  readonly quantity?: number;
}

export interface SubscriptionVariant {
  readonly id: string;
  /** Default `openapi` (API 2025-03-31 and later: the current period is on the items). */
  readonly shape?: FixtureShape;
  /** Defaults to the test Patient's customer, `cus_TestPatient1`. */
  readonly customer?: string;
  /** The schedule that manages it (default none). */
  readonly schedule?: string | null;
  /** Default: one item of `price_1TestCarePlan` (product `prod_1TestCare`), quantity 1. */
  readonly items?: readonly SubscriptionItemVariant[];
  /** Unix seconds; a trial from the start until then. */
  readonly trialEnd?: number;
  readonly metadata?: Record<string, string>;
  readonly description?: string;
}

export interface SubscriptionBuildOptions {
  /** `created` and `start_date` (default: `at`). */
  readonly created?: number;
}

const DAY = 86_400;
const DEFAULT_ITEMS: readonly SubscriptionItemVariant[] = [{ price: 'price_1TestCarePlan', product: 'prod_1TestCare' }];
const FINAL: readonly SubscriptionStatus[] = ['canceled', 'incomplete_expired'];

/**
 * A valid subscription built from Stripe's fixture of the variant's shape. The fixture is a shape, not
 * consistent data, so this changes: the id and customer (from placeholders; customer = the test
 * Patient's `cus_TestPatient1` unless given); `status`; `created`/`start_date`; `schedule`; the items
 * (each keeps the fixture item's shape, with the variant's price, product and quantity); the current
 * period (a month from the start, on the subscription before API 2025-03-31, on each item after — the
 * fixture's item period ends before it starts); `trial_start`/`trial_end` (only with a trial);
 * `canceled_at`/`ended_at` (the fixture's placeholder `1234567890`) only in a final status, at `at`;
 * `cancel_at`, `pause_collection`, `pending_update`, `transfer_data` and `latest_invoice` cleared.
 */
export function buildSubscription(
  variant: SubscriptionVariant,
  status: SubscriptionStatus,
  at: number,
  options: SubscriptionBuildOptions = {}
): StripeSubscription {
  const shape = variant.shape ?? 'openapi';
  const base = loadStripeFixture<Record<string, unknown>>(shape, 'subscription');
  const created = options.created ?? at;
  const baseItems = base.items as { data: Record<string, unknown>[] } & Record<string, unknown>;
  const baseItem = baseItems.data[0] as Record<string, unknown>;
  const basePrice = baseItem.price as Record<string, unknown>;
  const periodStart = variant.trialEnd !== undefined && at >= variant.trialEnd ? variant.trialEnd : created;
  const period = { current_period_start: periodStart, current_period_end: periodStart + 30 * DAY };
  const items = (variant.items ?? DEFAULT_ITEMS).map((item, i) => {
    const built: Record<string, unknown> = {
      ...baseItem,
      id: item.id ?? `si_${variant.id.replace(/^sub_/, '')}${i}`,
      created,
      subscription: variant.id,
      quantity: item.quantity ?? 1,
      price: { ...basePrice, id: item.price, product: item.product },
      plan: { ...(baseItem.plan as object), id: item.price, product: item.product },
    };
    if (shape === 'openapi') {
      Object.assign(built, period);
    }
    return built;
  });
  const ended = FINAL.includes(status);
  const subscription: Record<string, unknown> = {
    ...base,
    id: variant.id,
    customer: variant.customer ?? 'cus_TestPatient1',
    status,
    created,
    start_date: created,
    billing_cycle_anchor: periodStart,
    schedule: variant.schedule ?? null,
    metadata: variant.metadata ?? {},
    description: variant.description ?? null,
    items: { ...baseItems, data: items, url: `/v1/subscription_items?subscription=${variant.id}` },
    trial_start: variant.trialEnd !== undefined ? created : null,
    trial_end: variant.trialEnd ?? null,
    canceled_at: ended ? at : null,
    ended_at: ended ? at : null,
    cancel_at: null,
    cancel_at_period_end: false,
    pause_collection: null,
    pending_update: null,
    transfer_data: null,
    latest_invoice: null,
  };
  if (shape === 'openapi-2025-02-24.acacia') {
    Object.assign(subscription, period);
  }
  return subscription as unknown as StripeSubscription;
}

export type SubscriptionLifecycle = 'past-due-then-canceled' | 'trial' | 'paused-resumed' | 'expired' | 'upgraded';

export interface SubscriptionStep {
  readonly type: string;
  readonly status: SubscriptionStatus;
  /** The items from this step on (a plan change). */
  readonly items?: readonly SubscriptionItemVariant[];
}

/** The upgrade's second plan: another price of another product, two seats. */
export const UPGRADED_ITEMS: readonly SubscriptionItemVariant[] = [
  { price: 'price_1TestPremium', product: 'prod_1TestPremium', quantity: 2 },
];

/**
 * Lifecycles as Stripe sends them (see the CLI trigger recipes): a subscription is created, then
 * `updated` whenever its status or items change; `paused`/`resumed`, `trial_will_end` and `deleted`
 * come beside them.
 */
export const SUBSCRIPTION_LIFECYCLES: Record<SubscriptionLifecycle, readonly SubscriptionStep[]> = {
  'past-due-then-canceled': [
    { type: 'customer.subscription.created', status: 'incomplete' },
    { type: 'customer.subscription.updated', status: 'active' },
    { type: 'customer.subscription.updated', status: 'past_due' },
    { type: 'customer.subscription.updated', status: 'active' },
    { type: 'customer.subscription.deleted', status: 'canceled' },
  ],
  trial: [
    { type: 'customer.subscription.created', status: 'trialing' },
    { type: 'customer.subscription.trial_will_end', status: 'trialing' },
    { type: 'customer.subscription.updated', status: 'active' },
  ],
  'paused-resumed': [
    { type: 'customer.subscription.created', status: 'active' },
    { type: 'customer.subscription.paused', status: 'paused' },
    { type: 'customer.subscription.resumed', status: 'active' },
  ],
  expired: [
    { type: 'customer.subscription.created', status: 'incomplete' },
    { type: 'customer.subscription.updated', status: 'incomplete_expired' },
  ],
  upgraded: [
    { type: 'customer.subscription.created', status: 'active' },
    { type: 'customer.subscription.updated', status: 'active', items: UPGRADED_ITEMS },
  ],
};

/**
 * The events Stripe sends for one subscription's lifecycle, in the order they happened. `gaps[i]` is
 * the seconds between step i and i+1 (0 puts them in the same second); missing gaps are 1. A `trial`
 * lifecycle gets a trial that ends at its last step.
 */
export function subscriptionLifecycleEvents(
  variant: SubscriptionVariant,
  lifecycle: SubscriptionLifecycle,
  options: { start?: number; gaps?: readonly number[]; ids?: readonly string[] } = {}
): StripeEvent<StripeSubscription>[] {
  const start = options.start ?? 1_760_000_000;
  const steps = SUBSCRIPTION_LIFECYCLES[lifecycle];
  const times: number[] = [];
  let at = start;
  steps.forEach((_, i) => {
    if (i > 0) {
      at += options.gaps?.[i - 1] ?? 1;
    }
    times.push(at);
  });
  const trialEnd = lifecycle === 'trial' ? (variant.trialEnd ?? times[times.length - 1]) : variant.trialEnd;
  let items = variant.items;
  return steps.map((step, i) => {
    items = step.items ?? items;
    const when = times[i] as number;
    const object = buildSubscription(
      { ...variant, ...(items && { items }), ...(trialEnd !== undefined && { trialEnd }) },
      step.status,
      when,
      { created: start }
    );
    return wrapShapedEvent(step.type, object, variant.shape ?? 'openapi', {
      created: when,
      ...(options.ids?.[i] && { id: options.ids[i] }),
    });
  });
}
