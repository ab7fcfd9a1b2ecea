import type { Account, Extension, Identifier, Organization, Patient, Period, Reference } from '@medplum/fhirtypes';
import { EXTENSION, STRIPE_SYSTEM } from '../constants';
import {
  isFinalSubscriptionState,
  isSubscriptionStage,
  isSubscriptionState,
  subscriptionAccountStatus,
  subscriptionStateOfStage,
  type SubscriptionSnapshot,
  type SubscriptionState,
} from '../machines/subscription';
import { customerIdOf, itemCurrentPeriod, itemProductId, subscriptionScheduleId } from '../stripe/access';
import type { StripeEvent, StripeSubscription, StripeSubscriptionItem } from '../stripe/types';
import { appliedEventExtension, readAppliedEvent, unixToDateTime } from './order';
import { ACCOUNT_TYPE, canonicalAccount, otherExtensions, SUBSCRIPTION_EXTENSIONS, withNames } from './shared-account';

export interface SubscriptionAccountLinks {
  /** The Patient of the subscription's customer (or its metadata); only fills a missing subject. */
  readonly patient?: Reference<Patient>;
  /** The payee Organization (`PAYEE_ORGANIZATION`), when configured. */
  readonly owner?: Reference<Organization>;
}

/** The Stripe ids a subscription event names: the subscription, and its schedule when `schedule` is set. */
export function subscriptionIdentifiers(subscription: StripeSubscription): Identifier[] {
  const schedule = subscriptionScheduleId(subscription);
  return [
    { system: STRIPE_SYSTEM.subscription, value: subscription.id },
    ...(schedule ? [{ system: STRIPE_SYSTEM.subscriptionSchedule, value: schedule }] : []),
  ];
}

/**
 * Restores the subscription machine's snapshot from a stored Account: the state from the
 * subscription-machine-state extension, the last applied event from the subscription's own marker. An
 * Account without that marker (a schedule's, a session's, or one written by something else) gives
 * undefined: the first subscription event applies whatever its status.
 */
export function subscriptionSnapshotOf(account: Account | undefined): SubscriptionSnapshot | undefined {
  const applied = readAppliedEvent(account, EXTENSION.subscriptionLastAppliedEvent);
  if (!applied) {
    return undefined;
  }
  const stored = account?.extension?.find((e) => e.url === EXTENSION.subscriptionMachineState)?.valueCode;
  if (isSubscriptionState(stored)) {
    return { state: stored, applied };
  }
  return isSubscriptionStage(applied.stage) ? { state: subscriptionStateOfStage(applied.stage), applied } : undefined;
}

/**
 * Maps a subscription event the machine accepted to the subscription's Account. `existing` is the stored
 * Account (possibly a schedule's): the schedule's part, foreign identifiers and extensions, `partOf`
 * stay; identifiers and tags are unions; the subject only fills a missing one. The subscription decides
 * `status`, `servicePeriod`, `name` and `owner`, and says what is subscribed now (one item extension
 * per item), so that a plan change is a new Account version.
 */
export function mapSubscriptionAccount(
  event: StripeEvent<StripeSubscription>,
  snapshot: SubscriptionSnapshot,
  links: SubscriptionAccountLinks,
  existing?: Account
): Account {
  const subscription = event.data.object;
  const applied = snapshot.applied;
  if (!applied || applied.id !== event.id) {
    throw new Error(`mapSubscriptionAccount needs the snapshot that event ${event.id} produced`);
  }
  const { state } = snapshot;
  const named = withNames(existing, {
    identifiers: subscriptionIdentifiers(subscription),
    customerId: customerIdOf(subscription),
    patient: links.patient,
  });
  const extension: Extension[] = [
    ...otherExtensions(existing, SUBSCRIPTION_EXTENSIONS),
    appliedEventExtension(applied, EXTENSION.subscriptionLastAppliedEvent),
    { url: EXTENSION.subscriptionStatus, valueCode: String(subscription.status) },
    { url: EXTENSION.subscriptionMachineState, valueCode: state },
    ...(subscription.trial_end
      ? [{ url: EXTENSION.trialEnd, valueDateTime: unixToDateTime(subscription.trial_end) }]
      : []),
    ...(subscription.items?.data ?? []).map((item) => itemExtension(subscription, item)),
  ];
  return canonicalAccount({
    ...named,
    extension,
    status: subscriptionAccountStatus(state),
    type: named.type ?? ACCOUNT_TYPE,
    name: subscription.description || `Stripe subscription ${subscription.id}`,
    servicePeriod: subscriptionPeriod(subscription, state, event.created),
    owner: links.owner ?? named.owner,
  });
}

/** One subscribed item: its id, price and product codings, quantity and current period. */
export function itemExtension(subscription: StripeSubscription, item: StripeSubscriptionItem): Extension {
  const product = itemProductId(item);
  const period = orderedPeriod(itemCurrentPeriod(subscription, item));
  return {
    url: EXTENSION.subscriptionItem,
    extension: [
      { url: 'id', valueString: item.id },
      ...(item.price?.id ? [{ url: 'price', valueCoding: { system: STRIPE_SYSTEM.price, code: item.price.id } }] : []),
      ...(product ? [{ url: 'product', valueCoding: { system: STRIPE_SYSTEM.product, code: product } }] : []),
      ...(typeof item.quantity === 'number' ? [{ url: 'quantity', valueInteger: item.quantity }] : []),
      ...(period ? [{ url: 'currentPeriod', valuePeriod: period }] : []),
    ],
  };
}

/**
 * `start_date` .. the end: `ended_at`, else (once in a final state) `canceled_at`, else the event
 * time; open while the subscription lives. Never start after end (FHIR per-1).
 */
export function subscriptionPeriod(
  subscription: StripeSubscription,
  state: SubscriptionState,
  eventCreated: number
): Period | undefined {
  const start = subscription.start_date ?? subscription.created ?? undefined;
  const end = isFinalSubscriptionState(state)
    ? (subscription.ended_at ?? subscription.canceled_at ?? eventCreated)
    : undefined;
  return orderedPeriod({ start, end });
}

function orderedPeriod({ start, end }: { start?: number; end?: number }): Period | undefined {
  if (start === undefined && end === undefined) {
    return undefined;
  }
  if (start !== undefined && end !== undefined) {
    return { start: unixToDateTime(Math.min(start, end)), end: unixToDateTime(end) };
  }
  return start !== undefined ? { start: unixToDateTime(start) } : { end: unixToDateTime(end as number) };
}
