import { getReferenceString } from '@medplum/core';
import type { Account, Patient, Reference, Resource } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';
import {
  accountSubject,
  billingAccountQuery,
  carriesCustomer,
  isBillingAccountOf,
  type SubjectSource,
} from '../fhir/billing-account';
import { identifierQuery } from '../fhir/upsert';

/**
 * The ways a Stripe object names its Patient, most specific first: a Checkout Session's
 * `client_reference_id` (that session's resources only), the object's own
 * `metadata.medplum_patient_id`, then the customer (the subject of its billing Account, else the
 * Patient that carries the customer id).
 */
export interface PatientHint {
  readonly customerId?: string;
  readonly metadataPatientId?: string;
  readonly clientReferenceId?: string;
}

/**
 * Search URLs for a batched read (empty strings where the hint has nothing; callers filter them).
 * Their first matches go to `pickSubject`/`pickPatient`, which recognise each by content, so the
 * caller may add other queries around them. With a customer, the customer's billing Account is
 * among them: `billingAccountOf` picks it out.
 */
export function patientQueries(hint: PatientHint): string[] {
  return [
    hint.customerId
      ? `Patient?${identifierQuery({ system: STRIPE_SYSTEM.customer, value: hint.customerId })}&_count=1`
      : '',
    hint.metadataPatientId ? `Patient?_id=${encodeURIComponent(hint.metadataPatientId)}&_count=1` : '',
    hint.clientReferenceId && hint.clientReferenceId !== hint.metadataPatientId
      ? `Patient?_id=${encodeURIComponent(hint.clientReferenceId)}&_count=1`
      : '',
    hint.customerId ? `Account?${billingAccountQuery(hint.customerId)}&_count=1` : '',
  ];
}

export interface ResolvedSubject {
  readonly patient: Reference<Patient>;
  readonly source: SubjectSource;
}

/**
 * The subject the matches of `patientQueries(hint)` decide: the session's client_reference_id,
 * else the object's metadata, else the customer's Patient (its billing Account's subject, which is
 * the source of truth, else a Patient carrying the customer id), else the subject of the
 * subscription Account among the matches.
 */
export function pickSubject(
  matches: readonly (Resource | undefined)[],
  hint: PatientHint
): ResolvedSubject | undefined {
  const patientById = (id: string | undefined): Reference<Patient> | undefined => {
    const found = id ? matches.find((m): m is Patient => m?.resourceType === 'Patient' && m.id === id) : undefined;
    return found ? { reference: getReferenceString(found as Patient & { id: string }) } : undefined;
  };
  const byClientReference = patientById(hint.clientReferenceId);
  if (byClientReference) {
    return { patient: byClientReference, source: 'client-reference' };
  }
  const byMetadata = patientById(hint.metadataPatientId);
  if (byMetadata) {
    return { patient: byMetadata, source: 'metadata' };
  }
  const customerPatient = customerPatientOf(matches, hint.customerId);
  if (customerPatient) {
    return { patient: customerPatient, source: 'customer' };
  }
  const subscriptionAccount = matches.find(
    (m): m is Account =>
      m?.resourceType === 'Account' && (m.identifier ?? []).some((i) => i.system === STRIPE_SYSTEM.subscription)
  );
  const bySubscription = accountSubject(subscriptionAccount);
  return bySubscription ? { patient: bySubscription, source: 'subscription' } : undefined;
}

/** The customer's Patient among the matches: its billing Account's subject, else a Patient carrying the id. */
export function customerPatientOf(
  matches: readonly (Resource | undefined)[],
  customerId: string | undefined
): Reference<Patient> | undefined {
  if (!customerId) {
    return undefined;
  }
  const claimed = accountSubject(billingAccountOf(matches, customerId));
  if (claimed) {
    return claimed;
  }
  const carrier = matches.find((m) => carriesCustomer(m, customerId)) as (Patient & { id: string }) | undefined;
  return carrier ? { reference: getReferenceString(carrier) } : undefined;
}

/** The customer's billing Account among the matches of `patientQueries`. */
export function billingAccountOf(
  matches: readonly (Resource | undefined)[],
  customerId: string | undefined
): (Account & { id: string }) | undefined {
  return customerId
    ? (matches.find((m) => isBillingAccountOf(m, customerId)) as (Account & { id: string }) | undefined)
    : undefined;
}

/** The Patient the matches name (see `pickSubject`); without a hint, the first Patient among them. */
export function pickPatient(
  matches: readonly (Resource | undefined)[],
  hint?: PatientHint
): Reference<Patient> | undefined {
  if (hint) {
    return pickSubject(matches, hint)?.patient;
  }
  const patient = matches.find((m): m is Patient & { id: string } => m?.resourceType === 'Patient');
  return patient ? { reference: getReferenceString(patient) } : undefined;
}
