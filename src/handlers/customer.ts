import { badRequest, OperationOutcomeError, type BotEvent, type MedplumClient, type WithId } from '@medplum/core';
import type { Account, Patient, Reference } from '@medplum/fhirtypes';
import { readConfig } from '../config';
import { searchFirstOfEach } from '../fhir/batch-read';
import { unixToDateTime } from '../fhir/order';
import { logInfo } from '../log';
import { metadataPatientId } from '../stripe/access';
import type { StripeCustomer, StripeEvent } from '../stripe/types';
import { claimCustomer } from './customer-claim';
import { billingAccountOf, customerPatientOf, patientQueries } from './patient-link';
import { ignored, requireStripeEvent, type TargetResult } from './target';

const CUSTOMER_EVENTS: ReadonlySet<string> = new Set(['customer.created', 'customer.updated', 'customer.deleted']);

/**
 * `customer.created|updated|deleted` → the customer's billing Account, and the claim of the customer
 * for the Patient its `metadata.medplum_patient_id` names (the first claim wins; a Patient that
 * already carries the customer id holds it); `customer.deleted` closes it for good.
 */
export async function syncCustomer(medplum: MedplumClient, botEvent: BotEvent): Promise<TargetResult> {
  const config = readConfig(botEvent.secrets);
  const event = requireStripeEvent(botEvent.input, 'customer.') as StripeEvent<StripeCustomer>;
  if (!CUSTOMER_EVENTS.has(event.type)) {
    return ignored(`${event.type} is not a customer lifecycle event: only created, updated and deleted are mapped`);
  }
  const customer = event.data.object;
  if (customer.object !== 'customer' || typeof customer.id !== 'string' || !customer.id.startsWith('cus_')) {
    throw new OperationOutcomeError(
      badRequest(`Invalid Stripe event: ${event.type} ${event.id} carries no customer (a cus_… id)`)
    );
  }
  const customerId = customer.id;
  const named = metadataPatientId(customer);
  const rawNamed = customer.metadata?.['medplum_patient_id'];
  const hint = { customerId, ...(named && { metadataPatientId: named }) };
  const matches = await searchFirstOfEach(medplum, patientQueries(hint).filter(Boolean));
  const stored = billingAccountOf(matches, customerId) as WithId<Account> | undefined;
  const namedPatient = matches.find((m): m is WithId<Patient> => m?.resourceType === 'Patient' && m.id === named);
  // A Patient that already carries the customer id holds an earlier claim: it fills a missing subject first.
  const holder = customerPatientOf(matches, customerId);
  const claimant: Reference<Patient> | undefined =
    holder ?? (namedPatient ? { reference: `Patient/${namedPatient.id}` } : undefined);

  const deleted = event.type === 'customer.deleted' || customer.deleted === true;
  const claim = await claimCustomer(medplum, {
    customerId,
    ...(claimant && { patient: claimant }),
    ...(config.payee && { owner: config.payee }),
    ...(deleted && { deletedAt: unixToDateTime(event.created) }),
    preloaded: { resource: stored },
  });

  const resources = [`Account/${claim.account.id}`, ...claim.resources];
  const notes: string[] = [];
  if (rawNamed !== undefined && !namedPatient) {
    notes.push(`metadata.medplum_patient_id names no existing Patient (${describe(rawNamed)}): no Patient written`);
  } else if (namedPatient && claim.patient && claim.patient.reference !== `Patient/${namedPatient.id}`) {
    notes.push(
      `customer ${customerId} is already claimed for ${claim.patient.reference}; the claim for ` +
        `Patient/${namedPatient.id} is refused (npm run link-customer -- --move moves it)`
    );
  }
  if (!claim.patient && rawNamed === undefined) {
    notes.push(`customer ${customerId} has no metadata.medplum_patient_id: billing Account kept without a subject`);
  }
  if (deleted) {
    notes.push(`customer ${customerId} deleted in Stripe: billing Account inactive, identifier period closed`);
  }
  if (claim.partial) {
    notes.push(
      `partial: more of customer ${customerId}'s resources wait for a subject; npm run link-customer finishes`
    );
  }
  logInfo('customer synced', { customer: customerId, claim: claim.outcome, patient: claim.patient?.reference });
  return { outcome: 'processed', resources, ...(notes.length && { reason: notes.join('; '), note: notes.join('; ') }) };
}

/** A value from metadata, quoted and cut short (it is a buyer- or staff-written string). */
function describe(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
