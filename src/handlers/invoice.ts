import { getReferenceString, type BotEvent, type MedplumClient, type WithId } from '@medplum/core';
import type { Account, Invoice, Patient, Reference } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';
import { readConfig } from '../config';
import { searchFirstOfEach } from '../fhir/batch-read';
import { invoiceLifecycle, invoiceStage, mapInvoice } from '../fhir/invoice';
import { readAppliedEvent, supersedes } from '../fhir/order';
import { identifierQuery, upsertByIdentifier } from '../fhir/upsert';
import { logInfo, logWarn } from '../log';
import { customerIdOf, invoiceSubscriptionId, metadataPatientId } from '../stripe/access';
import type { StripeEvent, StripeInvoice } from '../stripe/types';
import { ensureBillingAccount, fillSubjectClaimedMeanwhile } from './customer-claim';
import { billingAccountOf, customerPatientOf, patientQueries, pickSubject } from './patient-link';
import { readSubjectSource, type SubjectSource } from '../fhir/billing-account';
import { ignored, requireStripeEvent, type TargetResult } from './target';

/** `invoice.*` → one Invoice per Stripe invoice, upserted by identifier, order- and duplicate-safe. */
export async function syncInvoice(medplum: MedplumClient, botEvent: BotEvent): Promise<TargetResult> {
  const config = readConfig(botEvent.secrets);
  const event = requireStripeEvent(botEvent.input, 'invoice.') as StripeEvent<StripeInvoice>;
  const invoice = event.data.object;
  if (invoice.object !== 'invoice' || !invoice.id) {
    // invoice.upcoming previews an invoice that does not exist yet: it has no id to keep.
    return ignored(`${event.type} carries no invoice id (a preview, not an invoice): nothing to store`);
  }
  const stage = invoiceStage(event.type, invoice);
  if (!stage) {
    return ignored(`invoice ${invoice.id} has status ${String(invoice.status)}, which maps to no Invoice.status`);
  }
  if (invoice.lines?.has_more) {
    logWarn('invoice has more lines than the event carries; only those are mapped', { invoice: invoice.id });
  }

  const identifier = { system: STRIPE_SYSTEM.invoice, value: invoice.id };
  const subscriptionId = invoiceSubscriptionId(invoice);
  const hint = { customerId: customerIdOf(invoice), metadataPatientId: metadataPatientId(invoice) };
  // One round trip: the Invoice, the Patient hints with the customer's billing Account, the subscription's Account.
  const [stored, ...matches] = await searchFirstOfEach(
    medplum,
    [
      `Invoice?${identifierQuery(identifier)}&_count=1`,
      ...patientQueries(hint),
      subscriptionId
        ? `Account?${identifierQuery({ system: STRIPE_SYSTEM.subscription, value: subscriptionId })}&_count=1`
        : '',
    ].filter(Boolean)
  );
  const subject = pickSubject(matches, hint);
  const subscriptionAccount = subscriptionId
    ? matches.find(
        (m): m is WithId<Account> =>
          m?.resourceType === 'Account' &&
          (m.identifier ?? []).some((i) => i.system === STRIPE_SYSTEM.subscription && i.value === subscriptionId)
      )
    : undefined;
  let billingAccount = billingAccountOf(matches, hint.customerId);
  if (!subject) {
    logInfo('no Patient found for invoice; stored without subject', { invoice: invoice.id, ...hint });
  }
  if (hint.customerId && !subscriptionId) {
    // Costs nothing when our billing Account exists (the budget path); creates or upgrades it otherwise.
    billingAccount = await ensureBillingAccount(medplum, hint.customerId, {
      ...(config.payee && { owner: config.payee }),
      ...(customerPatientOf(matches, hint.customerId) && { subject: customerPatientOf(matches, hint.customerId) }),
      ...(billingAccount && { found: billingAccount }),
    });
  }
  const account = subscriptionAccount ?? (subscriptionId ? undefined : billingAccount);

  const applied = { id: event.id, created: event.created, stage };
  const result = await upsertByIdentifier<Invoice>(medplum, {
    resourceType: 'Invoice',
    identifier,
    preloaded: { resource: stored as WithId<Invoice> | undefined },
    build: (existing) => {
      if (!supersedes(applied, readAppliedEvent(existing), invoiceLifecycle)) {
        return undefined;
      }
      const kept = keptSubject(existing);
      return mapInvoice(event, stage, {
        patient: kept?.patient ?? subject?.patient,
        subjectSource: kept ? kept.source : subject?.source,
        account: account
          ? { reference: getReferenceString(account) }
          : keptAccount(existing, subscriptionId, billingAccount),
        issuer: config.payee,
      });
    },
  });
  if (subscriptionId && !subscriptionAccount && result.resource && !result.resource.account) {
    await linkAccountCreatedMeanwhile(medplum, identifier, result.resource, subscriptionId);
  }
  if (hint.customerId && !subject && result.written && result.resource && !result.resource.subject) {
    await fillSubjectClaimedMeanwhile(medplum, result.resource, hint.customerId);
  }
  const resources = result.resource ? [`Invoice/${result.resource.id}`] : [];
  if (result.written) {
    return { outcome: 'processed', resources };
  }
  return { outcome: 'processed', resources, reason: 'the Invoice already shows this or a later event' };
}

/**
 * The schedule bot links the Invoices it finds when it writes an Account; an Account written
 * between our read and our write finds none. Looking again after the write closes that gap:
 * one of the two bots always sees the other's write.
 */
async function linkAccountCreatedMeanwhile(
  medplum: MedplumClient,
  identifier: { system: string; value: string },
  written: WithId<Invoice>,
  subscriptionId: string
): Promise<void> {
  const account = await medplum.searchOne(
    'Account',
    identifierQuery({ system: STRIPE_SYSTEM.subscription, value: subscriptionId }),
    { cache: 'no-cache' }
  );
  if (!account) {
    return;
  }
  await upsertByIdentifier<Invoice>(medplum, {
    resourceType: 'Invoice',
    identifier,
    preloaded: { resource: written },
    build: (existing) =>
      existing && !existing.account ? { ...existing, account: { reference: getReferenceString(account) } } : undefined,
  });
}

/** A subject once set never changes by an event: the stored one and where it came from. */
function keptSubject(
  existing: Invoice | undefined
): { patient: Reference<Patient>; source?: SubjectSource } | undefined {
  const patient = existing?.subject as Reference<Patient> | undefined;
  if (!patient?.reference) {
    return undefined;
  }
  const source = readSubjectSource(existing);
  return { patient, ...(source && { source }) };
}

/**
 * The stored `account` when this event finds none: kept, except that an Invoice of a subscription
 * takes only its subscription's Account, so a billing Account link (e.g. one Medplum's sample wrote)
 * is not carried over.
 */
function keptAccount(
  existing: Invoice | undefined,
  subscriptionId: string | undefined,
  billingAccount: WithId<Account> | undefined
): Reference<Account> | undefined {
  const stored = existing?.account;
  if (subscriptionId && billingAccount && stored?.reference === getReferenceString(billingAccount)) {
    return undefined;
  }
  return stored;
}
