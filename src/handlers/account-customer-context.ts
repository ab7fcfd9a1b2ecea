import { getReferenceString, type MedplumClient, type WithId } from '@medplum/core';
import type { Account, Organization, Patient, Reference, Resource } from '@medplum/fhirtypes';
import { accountSubject, readSubjectSource, withSubjectSource } from '../fhir/billing-account';
import { canonicalAccount } from '../fhir/shared-account';
import { ensureBillingAccount, fillSubscriptionInvoices } from './customer-claim';
import {
  billingAccountOf,
  customerPatientOf,
  pickSubject,
  type PatientHint,
  type ResolvedSubject,
} from './patient-link';

/** What a schedule or subscription event knows of its customer: the Patient it names and the billing Account. */
export interface AccountCustomerContext {
  readonly subject?: ResolvedSubject;
  /** The customer's billing Account, which the subscription's Account is `partOf`. */
  readonly billingAccount?: WithId<Account>;
}

/**
 * Resolves the subject from the matches of `patientQueries(hint)`, and makes sure the customer's
 * billing Account exists (one write, the first time a customer is seen), so that `partOf` does not
 * depend on which event arrives first.
 */
export async function resolveAccountCustomerContext(
  medplum: MedplumClient,
  matches: readonly (Resource | undefined)[],
  hint: PatientHint,
  owner: Reference<Organization> | undefined
): Promise<AccountCustomerContext> {
  const subject = pickSubject(matches, hint);
  if (!hint.customerId) {
    return { ...(subject && { subject }) };
  }
  const found = billingAccountOf(matches, hint.customerId);
  const customerPatient = customerPatientOf(matches, hint.customerId);
  const billingAccount = await ensureBillingAccount(medplum, hint.customerId, {
    ...(owner && { owner }),
    ...(customerPatient && { subject: customerPatient }),
    ...(found && { found }),
  });
  return { ...(subject && { subject }), billingAccount };
}

/**
 * The subscription's Account in its customer's context: `partOf` the billing Account (a stored one
 * is kept), and marked with where its subject came from (a subject once set keeps its source).
 */
export function inCustomerContext(
  account: Account,
  existing: Account | undefined,
  context: AccountCustomerContext
): Account {
  const partOf =
    account.partOf ??
    existing?.partOf ??
    (context.billingAccount && { reference: getReferenceString(context.billingAccount) });
  const source = accountSubject(existing) ? readSubjectSource(existing) : context.subject?.source;
  const extension = withSubjectSource(account.extension, account.subject?.length ? source : undefined);
  return canonicalAccount({ ...account, extension, ...(partOf && { partOf }) });
}

/**
 * Whoever first gives a subscription's Account its subject (or the Account a subscription id it had
 * not) fills that subscription's Invoices stored without a subject. Returns their references.
 */
export async function fillInvoicesOfSubject(
  medplum: MedplumClient,
  account: WithId<Account>,
  change: { readonly subjectBefore?: Reference<Patient>; readonly written: boolean; readonly learned: boolean },
  subscriptionIds: readonly string[]
): Promise<string[]> {
  const owner = accountSubject(account);
  const subjectGiven = change.written && !change.subjectBefore && owner !== undefined;
  if (!owner || !(subjectGiven || change.learned)) {
    return [];
  }
  return fillSubscriptionInvoices(medplum, subscriptionIds, owner);
}
