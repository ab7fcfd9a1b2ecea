import type { BotEvent, MedplumClient, WithId } from '@medplum/core';
import type { Account, Patient, Reference } from '@medplum/fhirtypes';
import { readConfig } from '../config';
import { accountSubscriptionIds, mapAccount, scheduleIdentifiers, scheduleSnapshotOf } from '../fhir/account';
import { searchEach } from '../fhir/batch-read';
import { accountSubject } from '../fhir/billing-account';
import { withNames } from '../fhir/shared-account';
import { logInfo } from '../log';
import { applyScheduleEvent, scheduleStage } from '../machines/subscription-schedule';
import { customerIdOf, metadataPatientId, scheduleSubscriptionIds } from '../stripe/access';
import type { StripeEvent, StripeSubscriptionSchedule } from '../stripe/types';
import { sharedAccountSearch, upsertSharedAccount } from './account-store';
import { linkInvoices, unlinkedInvoicesQuery } from './invoice-link';
import { fillInvoicesOfSubject, inCustomerContext, resolveAccountCustomerContext } from './account-customer-context';
import { patientQueries } from './patient-link';
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
  const identifiers = scheduleIdentifiers(schedule);
  const hint = { customerId: customerIdOf(schedule), metadataPatientId: metadataPatientId(schedule) };
  // One round trip: the stored Account(s), the Patient hints, and a probe for Invoices awaiting a link.
  const [stored = [], ...rest] = await searchEach(
    medplum,
    [
      sharedAccountSearch(identifiers),
      ...patientQueries(hint),
      ...scheduleSubscriptionIds(schedule).map((id) => `Invoice?${unlinkedInvoicesQuery(id, 1)}`),
    ].filter(Boolean)
  );
  const matches = rest.map((found) => found[0]);
  // The schedule's Account is `partOf` its customer's billing Account, created here when missing.
  const context = await resolveAccountCustomerContext(medplum, matches, hint, config.payee);
  const patient = context.subject?.patient;
  const invoicesAwaitLink = matches.some((m) => m?.resourceType === 'Invoice');
  if (!patient) {
    logInfo('no Patient found for subscription schedule; Account stored without subject', {
      subscriptionSchedule: schedule.id,
      ...hint,
    });
  }

  const applied = { id: event.id, created: event.created, stage };
  /** Subscription ids of the Account that the last build started from. */
  let subscriptionsBefore: string[] = [];
  /** Its subject before the last build. */
  let subjectBefore: Reference<Patient> | undefined;
  const result = await upsertSharedAccount(medplum, {
    identifiers,
    preloaded: stored as WithId<Account>[],
    build: (existing) => {
      subscriptionsBefore = accountSubscriptionIds(existing);
      subjectBefore = accountSubject(existing);
      const { snapshot, changed } = applyScheduleEvent(scheduleSnapshotOf(existing), applied);
      const next = changed
        ? mapAccount(event, snapshot, { patient, owner: config.payee }, existing)
        : // A stale event still adds the ids it names (an Account keeps every id it has had).
          existing && withNames(existing, { identifiers, customerId: hint.customerId, patient });
      return next && inCustomerContext(next, existing, context);
    },
  });

  const account = result.resource;
  const resources = [...(account ? [`Account/${account.id}`] : []), ...result.merged];
  if (account) {
    const subscriptions = accountSubscriptionIds(account);
    // The write that first gives the Account a subscription id searches after it, so that Invoices
    // written while this bot ran are found too; otherwise the probe of the batched read decides.
    const learned = result.written && subscriptions.some((id) => !subscriptionsBefore.includes(id));
    if (learned || invoicesAwaitLink) {
      resources.push(...(await linkInvoices(medplum, account, subscriptions)));
    }
    const filled = await fillInvoicesOfSubject(
      medplum,
      account,
      { subjectBefore, written: result.written, learned },
      subscriptions
    );
    resources.push(...filled.filter((r) => !resources.includes(r)));
  }
  if (result.written) {
    return { outcome: 'processed', resources };
  }
  return { outcome: 'processed', resources, reason: 'the Account already shows this or a later event' };
}
