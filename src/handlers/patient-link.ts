import { getReferenceString } from '@medplum/core';
import type { Patient, Reference, Resource } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';
import { identifierQuery } from '../fhir/upsert';

/** The two ways a Stripe object names its Patient (docs/design.md, "FHIR mapping"): customer id, then metadata. */
export interface PatientHint {
  readonly customerId?: string;
  readonly metadataPatientId?: string;
}

/** Search URLs for a batched read, in the order `pickPatient` expects their first matches. */
export function patientQueries(hint: PatientHint): string[] {
  return [
    hint.customerId
      ? `Patient?${identifierQuery({ system: STRIPE_SYSTEM.customer, value: hint.customerId })}&_count=1`
      : '',
    hint.metadataPatientId ? `Patient?_id=${encodeURIComponent(hint.metadataPatientId)}&_count=1` : '',
  ];
}

export function pickPatient(matches: readonly (Resource | undefined)[]): Reference<Patient> | undefined {
  const patient = matches.find((m): m is Patient => m?.resourceType === 'Patient');
  return patient ? { reference: getReferenceString(patient) } : undefined;
}
