import type {
  Account,
  Coding,
  Extension,
  Identifier,
  Meta,
  Organization,
  Patient,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import { EXTENSION, PATIENT_BILLING_ACCOUNT_SYSTEM, STRIPE_SYSTEM } from '../constants';

/**
 * Where a resource's subject came from. `npm run link-customer -- --move` rewrites only `customer`
 * ones: a subject an object's own metadata or a session's client_reference_id named stays.
 */
export type SubjectSource = 'metadata' | 'customer' | 'client-reference' | 'subscription';

/** The patient billing account type of HL7 v3 ActCode. */
export const BILLING_ACCOUNT_TYPE = {
  coding: [
    {
      system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
      code: 'PBILLACCT',
      display: 'patient billing account',
    },
  ],
};

export function subjectSourceExtension(source: SubjectSource): Extension {
  return { url: EXTENSION.subjectSource, valueCode: source };
}

export function readSubjectSource(resource: Resource | undefined): SubjectSource | undefined {
  const extensions = (resource as { extension?: Extension[] } | undefined)?.extension;
  return extensions?.find((e) => e.url === EXTENSION.subjectSource)?.valueCode as SubjectSource | undefined;
}

/** `extension` with the subject-source extension set to `source` (or removed when undefined). */
export function withSubjectSource(extension: Extension[] | undefined, source: SubjectSource | undefined): Extension[] {
  const others = (extension ?? []).filter((e) => e.url !== EXTENSION.subjectSource);
  return source ? [...others, subjectSourceExtension(source)] : others;
}

/** The tag by which a customer's Invoices and Accounts are found (`meta.tag`). */
export function customerTag(customerId: string): Coding {
  return { system: STRIPE_SYSTEM.customer, code: customerId };
}

/** `meta` with `tags` added (once each), everything else kept. */
export function withTags(meta: Meta | undefined, tags: readonly Coding[]): Meta | undefined {
  const existing = meta?.tag ?? [];
  const added = tags.filter((t) => !existing.some((e) => e.system === t.system && e.code === t.code));
  if (!added.length) {
    return meta?.tag?.length ? { tag: existing } : undefined;
  }
  return { tag: [...existing, ...added] };
}

/** The customer a resource is tagged with, if any. */
export function taggedCustomerId(resource: Resource | undefined): string | undefined {
  return resource?.meta?.tag?.find((t) => t.system === STRIPE_SYSTEM.customer)?.code;
}

/**
 * Finds the customer's billing Account whichever wrote it: ours (`https://stripe.com/customer/id`)
 * or Medplum's sample bot (`https://stripe.com/account/id`, value the `cus_…` id). Used as the
 * search of a read and as the `If-None-Exist` of a conditional create (an OR over both systems).
 */
export function billingAccountQuery(customerId: string): string {
  const value = [STRIPE_SYSTEM.customer, STRIPE_SYSTEM.sampleCustomerAccount]
    .map((system) => `${system}|${customerId}`)
    .join(',');
  return `identifier=${encodeURIComponent(value)}`;
}

export function patientBillingAccountQuery(patientId: string): string {
  return `identifier=${encodeURIComponent(`${PATIENT_BILLING_ACCOUNT_SYSTEM}|${patientId}`)}`;
}

/** True when the Account is the billing Account of `customerId` (either system). */
export function isBillingAccountOf(account: Resource | undefined, customerId: string): account is Account {
  return (
    account?.resourceType === 'Account' &&
    (account.identifier ?? []).some(
      (i) =>
        i.value === customerId &&
        (i.system === STRIPE_SYSTEM.customer || i.system === STRIPE_SYSTEM.sampleCustomerAccount)
    )
  );
}

/** The Patient that owns the Account (its first subject), if any. */
export function accountSubject(account: Account | undefined): Reference<Patient> | undefined {
  const subject = account?.subject?.[0];
  return subject?.reference?.startsWith('Patient/') ? (subject as Reference<Patient>) : undefined;
}

export interface BillingAccountChange {
  readonly customerId: string;
  readonly owner?: Reference<Organization>;
  /** Claims the customer for this Patient: only fills a missing subject. */
  readonly subject?: Reference<Patient>;
  /** The customer was deleted at this time (`customer.deleted`): terminal. */
  readonly deletedAt?: string;
}

/**
 * The billing Account of a customer after `change`, from the stored one (ours, Medplum's sample's,
 * or none). Never changes a subject once set (the claim lock), never reactivates a deleted
 * customer's Account; identifiers of other systems, tags and extensions are kept.
 */
export function mapBillingAccount(existing: Account | undefined, change: BillingAccountChange): Account {
  const { id: _id, meta, ...stored } = existing ?? ({} as Partial<Account>);
  const ours = stored.identifier?.find((i) => i.system === STRIPE_SYSTEM.customer && i.value === change.customerId);
  const end = ours?.period?.end ?? change.deletedAt;
  const identifier: Identifier = {
    system: STRIPE_SYSTEM.customer,
    value: change.customerId,
    ...(end && { period: { end } }),
  };
  const subject = accountSubject(existing as Account | undefined) ?? change.subject;
  const deleted = end !== undefined;
  const tagged = withTags(meta, [customerTag(change.customerId)]);
  return {
    ...stored,
    resourceType: 'Account',
    ...(tagged && { meta: tagged }),
    identifier: [identifier, ...(stored.identifier ?? []).filter((i) => i !== ours)],
    status: deleted ? 'inactive' : existing?.status === 'inactive' ? 'inactive' : 'active',
    type: stored.type ?? BILLING_ACCOUNT_TYPE,
    name: stored.name ?? `Stripe customer ${change.customerId}`,
    ...(subject && { subject: [subject] }),
    ...((stored.owner ?? change.owner) && { owner: stored.owner ?? change.owner }),
  } as Account;
}

/**
 * The billing Account of a Patient whose payment names no Stripe customer: keyed by the Patient id,
 * its subject that Patient.
 */
export function mapPatientBillingAccount(patient: Reference<Patient>, owner?: Reference<Organization>): Account {
  const patientId = (patient.reference as string).slice('Patient/'.length);
  return {
    resourceType: 'Account',
    identifier: [{ system: PATIENT_BILLING_ACCOUNT_SYSTEM, value: patientId }],
    status: 'active',
    type: BILLING_ACCOUNT_TYPE,
    name: 'Stripe payments without a customer',
    subject: [patient],
    ...(owner && { owner }),
  };
}

/** The Patient's customer identifier as the Account shows it (period closed once the customer is deleted). */
export function patientCustomerIdentifier(account: Account, customerId: string): Identifier {
  const ours = account.identifier?.find((i) => i.system === STRIPE_SYSTEM.customer && i.value === customerId);
  return { system: STRIPE_SYSTEM.customer, value: customerId, ...(ours?.period && { period: ours.period }) };
}

/**
 * The Patient with the customer identifier added (or its period closed), nothing else changed;
 * undefined when it already shows it.
 */
export function patientWithCustomer(patient: Patient, identifier: Identifier): Patient | undefined {
  const stored = patient.identifier ?? [];
  const index = stored.findIndex((i) => i.system === identifier.system && i.value === identifier.value);
  if (index >= 0) {
    const current = stored[index] as Identifier;
    if (!identifier.period?.end || current.period?.end) {
      return undefined;
    }
    const next = [...stored];
    next[index] = { ...current, period: { ...current.period, end: identifier.period.end } };
    return { ...patient, identifier: next };
  }
  return { ...patient, identifier: [...stored, identifier] };
}

/** True when the Patient carries the customer id (a claim made by hand or by the payment-request bot). */
export function carriesCustomer(patient: Resource | undefined, customerId: string): patient is Patient {
  return (
    patient?.resourceType === 'Patient' &&
    (patient.identifier ?? []).some((i) => i.system === STRIPE_SYSTEM.customer && i.value === customerId)
  );
}
