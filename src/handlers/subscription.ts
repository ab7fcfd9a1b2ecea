import type { BotEvent, MedplumClient, WithId } from '@medplum/core';
import type { Account, Patient, Reference } from '@medplum/fhirtypes';
import { readConfig } from '../config';
import { accountSubscriptionIds } from '../fhir/account';
import { searchEach } from '../fhir/batch-read';
import { accountSubject } from '../fhir/billing-account';
import { withNames } from '../fhir/shared-account';
import { mapSubscriptionAccount, subscriptionIdentifiers, subscriptionSnapshotOf } from '../fhir/subscription-account';
import { logInfo, logWarn } from '../log';
import { applySubscriptionEvent, subscriptionStage } from '../machines/subscription';
import { customerIdOf, metadataPatientId } from '../stripe/access';
import type { StripeEvent, StripeSubscription } from '../stripe/types';
import { sharedAccountSearch, upsertSharedAccount } from './account-store';
import { linkInvoices, unlinkedInvoicesQuery } from './invoice-link';
import { fillInvoicesOfSubject, inCustomerContext, resolveAccountCustomerContext } from './account-customer-context';
import { patientQueries } from './patient-link';
import { ignored, requireStripeEvent, type TargetResult } from './target';

/**
 * `customer.subscription.*` → the subscription's Account (shared with the schedules that managed it),
 * its subscription part driven by the subscription machine: one batched read (the Account by an OR
 * over the subscription id and its schedule id, the Patient hints, a probe for Invoices awaiting a
 * link), a pure build on the stored Account, one conditional write; then the subscription's Invoices
 * written before the Account link to it.
 */
export async function syncSubscription(medplum: MedplumClient, botEvent: BotEvent): Promise<TargetResult> {
  const config = readConfig(botEvent.secrets);
  const event = requireStripeEvent(botEvent.input, 'customer.subscription.') as StripeEvent<StripeSubscription>;
  const subscription = event.data.object;
  if (subscription.object !== 'subscription' || !subscription.id) {
    return ignored(`${event.type} carries no subscription id: nothing to store`);
  }
  const stage = subscriptionStage(event.type, subscription.status);
  if (!stage) {
    return ignored(
      `subscription ${subscription.id} has status ${String(subscription.status)}, which the subscription machine does not know`
    );
  }
  if (subscription.items?.has_more) {
    logWarn('subscription has more items than the event carries; only those are mapped', {
      subscription: subscription.id,
    });
  }

  const identifiers = subscriptionIdentifiers(subscription);
  const hint = { customerId: customerIdOf(subscription), metadataPatientId: metadataPatientId(subscription) };
  const [stored = [], ...rest] = await searchEach(
    medplum,
    [
      sharedAccountSearch(identifiers),
      ...patientQueries(hint),
      `Invoice?${unlinkedInvoicesQuery(subscription.id, 1)}`,
    ].filter(Boolean)
  );
  const matches = rest.map((found) => found[0]);
  // The subscription's Account is `partOf` its customer's billing Account, created here when missing.
  const context = await resolveAccountCustomerContext(medplum, matches, hint, config.payee);
  const patient = context.subject?.patient;
  const invoicesAwaitLink = matches.some((m) => m?.resourceType === 'Invoice');
  if (!patient) {
    logInfo('no Patient found for subscription; Account stored without subject', {
      subscription: subscription.id,
      ...hint,
    });
  }

  const applied = { id: event.id, created: event.created, stage };
  let subscriptionsBefore: string[] = [];
  let subjectBefore: Reference<Patient> | undefined;
  const result = await upsertSharedAccount(medplum, {
    identifiers,
    preloaded: stored as WithId<Account>[],
    build: (existing) => {
      subscriptionsBefore = accountSubscriptionIds(existing);
      subjectBefore = accountSubject(existing);
      const { snapshot, changed } = applySubscriptionEvent(subscriptionSnapshotOf(existing), applied);
      const next = changed
        ? mapSubscriptionAccount(event, snapshot, { patient, owner: config.payee }, existing)
        : // A stale event still adds the ids it names (an Account keeps every schedule id it has had).
          existing && withNames(existing, { identifiers, customerId: hint.customerId, patient });
      return next && inCustomerContext(next, existing, context);
    },
  });

  const account = result.resource;
  const resources = [...(account ? [`Account/${account.id}`] : []), ...result.merged];
  if (account) {
    const learned = result.written && !subscriptionsBefore.includes(subscription.id);
    if (learned || invoicesAwaitLink) {
      resources.push(...(await linkInvoices(medplum, account, [subscription.id])));
    }
    const filled = await fillInvoicesOfSubject(medplum, account, { subjectBefore, written: result.written, learned }, [
      subscription.id,
    ]);
    resources.push(...filled.filter((r) => !resources.includes(r)));
  }
  if (result.written) {
    return { outcome: 'processed', resources };
  }
  return { outcome: 'processed', resources, reason: 'the Account already shows this or a later event' };
}
