import type { Account, Extension, Identifier, Organization, Patient, Period, Reference } from '@medplum/fhirtypes';
import { EXTENSION, STRIPE_SYSTEM } from '../constants';
import {
  accountStatus,
  isFinalState,
  isScheduleStage,
  isScheduleState,
  stateOfStage,
  type ScheduleSnapshot,
  type ScheduleState,
} from '../machines/subscription-schedule';
import { customerIdOf, scheduleSubscriptionIds } from '../stripe/access';
import type { StripeEvent, StripeSubscriptionSchedule } from '../stripe/types';
import { appliedEventExtension, readAppliedEvent, unixToDateTime } from './order';
import {
  ACCOUNT_TYPE,
  canonicalAccount,
  otherExtensions,
  SCHEDULE_EXTENSIONS,
  subscriptionKnown,
  withNames,
} from './shared-account';

export const ABORTED_REASON =
  'Stripe aborted the schedule (subscription_schedule.aborted): its subscription was canceled, usually for non-payment';

export interface AccountLinks {
  /** The Patient of the schedule's customer; the Account has no subject without one. */
  readonly patient?: Reference<Patient>;
  /** The payee Organization (`PAYEE_ORGANIZATION`), when configured. */
  readonly owner?: Reference<Organization>;
}

/**
 * Restores the machine snapshot kept on a stored Account: the state from the machine-state extension
 * and the last applied event from our marker. An Account without our marker (written by something
 * else) gives undefined, so that the first event applies whatever its status (docs/design.md, "FHIR mapping").
 * A marker without a readable state takes the state its stage leads to.
 */
export function scheduleSnapshotOf(account: Account | undefined): ScheduleSnapshot | undefined {
  const applied = readAppliedEvent(account);
  if (!applied) {
    return undefined;
  }
  const stored = account?.extension?.find((e) => e.url === EXTENSION.machineState)?.valueCode;
  if (isScheduleState(stored)) {
    return { state: stored, applied };
  }
  return isScheduleStage(applied.stage) ? { state: stateOfStage(applied.stage), applied } : undefined;
}

/** The Stripe subscription ids an Account carries (second and later identifiers). */
export function accountSubscriptionIds(account: Account | undefined): string[] {
  return (account?.identifier ?? []).flatMap((i) =>
    i.system === STRIPE_SYSTEM.subscription && i.value ? [i.value] : []
  );
}

/** The Stripe ids a schedule names: its own, then the subscriptions it names (`subscription`, `released_subscription`). */
export function scheduleIdentifiers(schedule: StripeSubscriptionSchedule): Identifier[] {
  return [
    { system: STRIPE_SYSTEM.subscriptionSchedule, value: schedule.id },
    ...scheduleSubscriptionIds(schedule).map((value) => ({ system: STRIPE_SYSTEM.subscription, value })),
  ];
}

/**
 * Maps a subscription schedule event, once the machine has accepted it (`snapshot` is the machine's
 * state after the event, `snapshot.applied` the event), to a FHIR Account. `existing` is the stored
 * Account, which the schedule may share with its subscription: everything the schedule does not own
 * stays (the subscription's part, identifiers of other systems, `partOf`…), identifiers are a union (an
 * Account keeps every id it has had, so that a link once made stays valid), the subject only fills a
 * missing one, and once a subscription event has been applied the subscription, not the schedule,
 * decides `status`, `servicePeriod`, `name` and `owner`.
 */
export function mapAccount(
  event: StripeEvent<StripeSubscriptionSchedule>,
  snapshot: ScheduleSnapshot,
  links: AccountLinks,
  existing?: Account
): Account {
  const schedule = event.data.object;
  const applied = snapshot.applied;
  if (!applied || applied.id !== event.id) {
    throw new Error(`mapAccount needs the snapshot that event ${event.id} produced`);
  }
  const { state } = snapshot;
  const named = withNames(existing, {
    identifiers: scheduleIdentifiers(schedule),
    customerId: customerIdOf(schedule),
    patient: links.patient,
  });
  const extension: Extension[] = [
    ...otherExtensions(existing, SCHEDULE_EXTENSIONS),
    appliedEventExtension(applied),
    { url: EXTENSION.stripeStatus, valueCode: schedule.status },
    { url: EXTENSION.machineState, valueCode: state },
    ...(state === 'aborted' ? [{ url: EXTENSION.statusReason, valueString: ABORTED_REASON }] : []),
  ];
  if (subscriptionKnown(existing)) {
    return canonicalAccount({ ...named, extension, type: named.type ?? ACCOUNT_TYPE });
  }
  const period = servicePeriod(schedule, state, event.created);
  return canonicalAccount({
    ...named,
    extension,
    status: accountStatus(state),
    type: named.type ?? ACCOUNT_TYPE,
    name: schedule.default_settings?.description || `Stripe subscription schedule ${schedule.id}`,
    servicePeriod: period,
    owner: links.owner ?? named.owner,
  });
}

/** Where the period's ends come from, for the message of a malformed timestamp. */
const START_FIELD = 'subscription_schedule.phases[0].start_date';
const END_FIELD = 'subscription_schedule end (last phase end_date, or the completed/released/canceled time)';

/**
 * First phase start .. last phase end; in a final state the end is the time the schedule ended (the
 * object's own `completed_at`/`released_at`/`canceled_at`, else the event time). A last phase without
 * an end leaves the period open unless the schedule has ended. Never start after end (FHIR per-1): a
 * schedule that ended before it started keeps a zero-length period at its end time.
 */
export function servicePeriod(
  schedule: StripeSubscriptionSchedule,
  state: ScheduleState,
  eventCreated: number
): Period | undefined {
  const phases = schedule.phases ?? [];
  const start = phases[0]?.start_date ?? schedule.current_phase?.start_date ?? undefined;
  const end = isFinalState(state)
    ? (endedAt(schedule, state) ?? eventCreated)
    : phases.length
      ? (phases[phases.length - 1]?.end_date ?? undefined)
      : (schedule.current_phase?.end_date ?? undefined);
  if (start === undefined && end === undefined) {
    return undefined;
  }
  if (start !== undefined && end !== undefined) {
    return {
      start: unixToDateTime(Math.min(start, end), START_FIELD),
      end: unixToDateTime(end, END_FIELD),
    };
  }
  return start !== undefined
    ? { start: unixToDateTime(start, START_FIELD) }
    : { end: unixToDateTime(end as number, END_FIELD) };
}

function endedAt(schedule: StripeSubscriptionSchedule, state: ScheduleState): number | undefined {
  switch (state) {
    case 'completed':
      return schedule.completed_at ?? undefined;
    case 'released':
      return schedule.released_at ?? undefined;
    case 'canceled':
    case 'aborted':
      return schedule.canceled_at ?? undefined;
    default:
      return undefined;
  }
}
