import type { BotEvent, MedplumClient } from '@medplum/core';
import { readConfig } from '../config';
import { mapAccount, scheduleIdentifiers, scheduleSnapshotOf } from '../fhir/account';
import { applyScheduleEvent, scheduleStage } from '../machines/subscription-schedule';
import { customerIdOf, metadataPatientId, scheduleSubscriptionIds } from '../stripe/access';
import type { StripeEvent, StripeSubscriptionSchedule } from '../stripe/types';
import { syncSharedAccount } from './shared-account-sync';
import { ignored, requireStripeEvent, type TargetResult } from './target';

export { linkInvoices, unlinkedInvoicesQuery } from './invoice-link';

/**
 * `subscription_schedule.*` → the Account of the schedule, which is also its subscription's Account
 * (found and conditionally created by an OR over every id the schedule names), its schedule part
 * driven by the schedule machine: restore the machine from the schedule's own marker, apply the
 * event, write the Account when the machine accepted it or the event names an id it lacks; then link
 * the subscription's Invoices that were written before the Account knew their subscription.
 */
export async function syncSubscriptionSchedule(medplum: MedplumClient, botEvent: BotEvent): Promise<TargetResult> {
  const config = readConfig(botEvent.secrets);
  const event = requireStripeEvent(botEvent.input, 'subscription_schedule.') as StripeEvent<StripeSubscriptionSchedule>;
  const schedule = event.data.object;
  if (schedule.object !== 'subscription_schedule' || !schedule.id) {
    return ignored(`${event.type} carries no subscription schedule id: nothing to store`);
  }
  const stage = scheduleStage(event.type, schedule.status);
  if (!stage) {
    return ignored(
      `subscription schedule ${schedule.id} has status ${String(schedule.status)}, which the schedule machine does not know`
    );
  }

  // The schedule's Account is its subscription's Account: found by any id the schedule names.
  const applied = { id: event.id, created: event.created, stage };
  return syncSharedAccount(medplum, {
    about: { subscriptionSchedule: schedule.id },
    identifiers: scheduleIdentifiers(schedule),
    hint: { customerId: customerIdOf(schedule), metadataPatientId: metadataPatientId(schedule) },
    subscriptionIds: scheduleSubscriptionIds(schedule),
    ...(config.payee && { owner: config.payee }),
    apply: (existing, patient) => {
      const { snapshot, changed } = applyScheduleEvent(scheduleSnapshotOf(existing), applied);
      return changed ? mapAccount(event, snapshot, { patient, owner: config.payee }, existing) : undefined;
    },
  });
}
