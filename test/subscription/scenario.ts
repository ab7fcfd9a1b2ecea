import type { StripeEvent } from '../../src/stripe/types';
import { compareEvents } from '../../src/event-order';
import { scheduleLifecycleEvents } from '../../lib/stripe-events/events';
import {
  SUBSCRIPTION_LIFECYCLES,
  subscriptionLifecycleEvents,
  type SubscriptionLifecycle,
} from '../../lib/stripe-events/subscription';
import { chronologicalSchedule, type ScheduleEvent } from '../subscription-schedule/helpers';
import { chronologicalSubscription, type SubscriptionEvent } from './helpers';

export const T = 1_760_000_000;

/** Where each lifecycle ends, written by hand (independently of the machine). */
export const FINAL: Record<SubscriptionLifecycle, { state: string; status: string; items: string[] }> = {
  'past-due-then-canceled': { state: 'canceled', status: 'inactive', items: ['price_1TestCarePlan × 1'] },
  trial: { state: 'active', status: 'active', items: ['price_1TestCarePlan × 1'] },
  'paused-resumed': { state: 'active', status: 'active', items: ['price_1TestCarePlan × 1'] },
  expired: { state: 'incompleteExpired', status: 'inactive', items: ['price_1TestCarePlan × 1'] },
  upgraded: { state: 'active', status: 'active', items: ['price_1TestPremium × 2'] },
};

export const LIFECYCLES = Object.keys(SUBSCRIPTION_LIFECYCLES) as SubscriptionLifecycle[];

export interface Scenario {
  readonly lifecycle: SubscriptionLifecycle;
  /** Whether a schedule started the subscription and was released from it. */
  readonly withSchedule: boolean;
  readonly withPatient: boolean;
  /** Gaps (seconds) between the subscription's events; 0 = same second. */
  readonly gaps: readonly number[];
  /** Seconds after the subscription starts at which the schedule releases it. */
  readonly releaseAfter: number;
  readonly ids: readonly string[];
  readonly shape: 'openapi' | 'openapi-2025-02-24.acacia';
}

/**
 * The events of one subscription, and of the schedule that started it when there is one: the schedule
 * is created at T (not started: it names only itself), starts the subscription at T+1, and releases it
 * `releaseAfter` seconds later; the subscription's events name the schedule until the release, not after.
 */
export function scenarioEvents(
  s: Scenario,
  tail: string
): { subscription: SubscriptionEvent[]; schedule: ScheduleEvent[] } {
  const subscriptionId = `sub_1${tail}`;
  const scheduleId = `sub_sched_1${tail}`;
  const start = T + 1;
  const releaseAt = start + s.releaseAfter;
  const subscription = subscriptionLifecycleEvents(
    { id: subscriptionId, shape: s.shape, ...(!s.withPatient && { customer: 'cus_1NoPatient' }) },
    s.lifecycle,
    { start, gaps: s.gaps, ids: s.ids.map((id) => `evt_${id}s`) }
  ).map((event) => {
    const schedule = s.withSchedule && event.created < releaseAt ? scheduleId : null;
    return { ...event, data: { ...event.data, object: { ...event.data.object, schedule } } };
  });
  const schedule = s.withSchedule
    ? scheduleLifecycleEvents(
        { id: scheduleId, subscription: subscriptionId, ...(!s.withPatient && { customer: 'cus_1NoPatient' }) },
        'released',
        { start: T, gaps: [1, s.releaseAfter], ids: s.ids.slice(0, 3).map((id) => `evt_${id}x`) }
      )
    : [];
  return { subscription, schedule };
}

/** Both objects' events in time order (each object's own in its key order; same second: the schedule first). */
export function chronological(events: { subscription: SubscriptionEvent[]; schedule: ScheduleEvent[] }): StripeEvent[] {
  const subscription = chronologicalSubscription(events.subscription);
  const schedule = chronologicalSchedule(events.schedule);
  const merged: StripeEvent[] = [];
  while (subscription.length || schedule.length) {
    const next =
      schedule.length && (!subscription.length || (schedule[0]?.created ?? 0) <= (subscription[0]?.created ?? 0))
        ? schedule.shift()
        : subscription.shift();
    merged.push(next as StripeEvent);
  }
  return merged;
}

export { compareEvents };
