import type { Identifier, Patient } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';

/**
 * The Stripe customer a Patient pays as: of the Patient's `https://stripe.com/customer/id`
 * identifiers whose `period` is open (no end, or an end still to come), the newest by period
 * start (one without a start counts as oldest; among equals, the one listed last).
 */
export function pickCustomerId(patient: Patient, now: Date): string | undefined {
  const open = (patient.identifier ?? [])
    .map((identifier, index) => ({ identifier, index }))
    .filter(({ identifier }) => identifier.system === STRIPE_SYSTEM.customer && identifier.value)
    .filter(({ identifier }) => !identifier.period?.end || Date.parse(identifier.period.end) > now.getTime());
  const start = (i: Identifier) => (i.period?.start ? Date.parse(i.period.start) : -Infinity);
  open.sort((a, b) => start(a.identifier) - start(b.identifier) || a.index - b.index);
  return open.at(-1)?.identifier.value;
}

/** The Patient with the customer identifier added (and nothing else changed), or undefined if it has it. */
export function withCustomerIdentifier(patient: Patient, customerId: string, now: Date): Patient | undefined {
  const has = patient.identifier?.some((i) => i.system === STRIPE_SYSTEM.customer && i.value === customerId);
  if (has) {
    return undefined;
  }
  const identifier: Identifier = {
    system: STRIPE_SYSTEM.customer,
    value: customerId,
    period: { start: now.toISOString() },
  };
  return { ...patient, identifier: [...(patient.identifier ?? []), identifier] };
}

/** What may be shared with Stripe of the Patient's contact details: name and email. */
export function patientContact(patient: Patient): { name?: string; email?: string } | undefined {
  const name = patient.name?.[0];
  const text = name?.text?.trim() || [...(name?.given ?? []), name?.family].filter(Boolean).join(' ').trim();
  const email = patient.telecom?.find((t) => t.system === 'email' && t.value?.trim())?.value?.trim();
  if (!text && !email) {
    return undefined;
  }
  return { ...(text && { name: text }), ...(email && { email }) };
}
