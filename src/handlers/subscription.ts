import type { BotEvent, MedplumClient } from '@medplum/core';
import { readConfig } from '../config';
import { mapSubscriptionAccount, subscriptionIdentifiers, subscriptionSnapshotOf } from '../fhir/subscription-account';
import { logWarn } from '../log';
import { applySubscriptionEvent, subscriptionStage } from '../machines/subscription';
import { customerIdOf, metadataPatientId } from '../stripe/access';
import type { StripeEvent, StripeSubscription } from '../stripe/types';
import { syncSharedAccount } from './shared-account-sync';
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

  const applied = { id: event.id, created: event.created, stage };
  return syncSharedAccount(medplum, {
    about: { subscription: subscription.id },
    identifiers: subscriptionIdentifiers(subscription),
    hint: { customerId: customerIdOf(subscription), metadataPatientId: metadataPatientId(subscription) },
    subscriptionIds: [subscription.id],
    ...(config.payee && { owner: config.payee }),
    apply: (existing, patient) => {
      const { snapshot, changed } = applySubscriptionEvent(subscriptionSnapshotOf(existing), applied);
      return changed ? mapSubscriptionAccount(event, snapshot, { patient, owner: config.payee }, existing) : undefined;
    },
  });
}
