import { deepEquals, getReferenceString, type MedplumClient, type WithId } from '@medplum/core';
import type { Account, Invoice, Organization, Patient, Reference, Resource } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';
import {
  accountSubject,
  billingAccountQuery,
  mapBillingAccount,
  patientCustomerIdentifier,
  patientWithCustomer,
  withSubjectSource,
  type BillingAccountChange,
} from '../fhir/billing-account';
import { retryOnConflict } from '../fhir/retry';
import { upsertByIdentifier } from '../fhir/upsert';
import { logInfo } from '../log';

/** Resources back-filled per bot run; `npm run link-customer` finishes what remains. */
export const BACKFILL_LIMIT = 50;

export interface BillingAccountResult {
  readonly account: WithId<Account>;
  readonly written: boolean;
}

/**
 * Creates or updates the customer's billing Account (conditional create by an OR over our system and
 * the one Medplum's sample bot uses; If-Match on update). A subject in `change` only fills a missing
 * one: whoever first sets it owns the customer.
 */
export async function upsertBillingAccount(
  medplum: MedplumClient,
  change: BillingAccountChange,
  preloaded?: { readonly resource: WithId<Account> | undefined }
): Promise<BillingAccountResult> {
  const result = await upsertByIdentifier<Account>(medplum, {
    resourceType: 'Account',
    identifier: { system: STRIPE_SYSTEM.customer, value: change.customerId },
    query: billingAccountQuery(change.customerId),
    ...(preloaded && { preloaded }),
    build: (existing) => {
      const next = mapBillingAccount(existing, change);
      return existing && sameContent(existing, next) ? undefined : next;
    },
  });
  return { account: result.resource as WithId<Account>, written: result.written };
}

/**
 * The customer's billing Account: `found` as it is when it is ours; created (without a subject
 * unless one is given) when missing; upgraded once when Medplum's sample bot wrote it; given
 * `subject` (the Patient that carries the customer id) when it has none.
 */
export async function ensureBillingAccount(
  medplum: MedplumClient,
  customerId: string,
  options: { owner?: Reference<Organization>; subject?: Reference<Patient>; found?: WithId<Account> } = {}
): Promise<WithId<Account>> {
  const ours = options.found?.identifier?.some((i) => i.system === STRIPE_SYSTEM.customer && i.value === customerId);
  // A Patient carrying the customer id holds it: its claim fills a missing subject, whoever comes first.
  const fillsSubject = options.subject !== undefined && !accountSubject(options.found);
  if (options.found && ours && !fillsSubject) {
    return options.found;
  }
  const { account } = await upsertBillingAccount(
    medplum,
    {
      customerId,
      ...(options.owner && { owner: options.owner }),
      ...(options.subject && { subject: options.subject }),
    },
    options.found ? { resource: options.found } : undefined
  );
  return account;
}

export type ClaimOutcome = 'claimed' | 'held' | 'refused' | 'unclaimed';

export interface ClaimResult {
  readonly account: WithId<Account>;
  /** `claimed`: this call set the subject; `held`: it was already this Patient's; `refused`: another's. */
  readonly outcome: ClaimOutcome;
  readonly patient?: Reference<Patient>;
  readonly reason?: string;
  /** References of what the call wrote besides the Account (the Patient, back-filled resources). */
  readonly resources: readonly string[];
  /** More resources wait for a back-fill than one run does. */
  readonly partial: boolean;
}

export interface ClaimRequest {
  readonly customerId: string;
  /** The Patient to claim the customer for; none only completes an existing claim. */
  readonly patient?: Reference<Patient>;
  readonly owner?: Reference<Organization>;
  readonly deletedAt?: string;
  /** Back-fill bound per call (default BACKFILL_LIMIT); Infinity for the operator's command. */
  readonly backfillLimit?: number;
  readonly preloaded?: { readonly resource: WithId<Account> | undefined };
}

/**
 * Claims a customer for a Patient through its billing Account (the lock and the source of truth),
 * then makes the owner carry the customer identifier and back-fills the customer's Invoices and
 * Accounts stored without a subject. Safe to repeat: a repeat completes what a crash left undone.
 */
export async function claimCustomer(medplum: MedplumClient, request: ClaimRequest): Promise<ClaimResult> {
  const { account, written } = await upsertBillingAccount(
    medplum,
    {
      customerId: request.customerId,
      ...(request.owner && { owner: request.owner }),
      ...(request.patient && { subject: request.patient }),
      ...(request.deletedAt && { deletedAt: request.deletedAt }),
    },
    request.preloaded
  );
  const owner = accountSubject(account);
  if (!owner) {
    return { account, outcome: 'unclaimed', resources: [], partial: false };
  }
  const resources: string[] = [];
  if (await ensurePatientCarriesCustomer(medplum, owner, account, request.customerId)) {
    resources.push(owner.reference as string);
  }
  const backfill = await backfillCustomer(medplum, {
    customerId: request.customerId,
    patient: owner,
    billingAccount: account,
    limit: request.backfillLimit ?? BACKFILL_LIMIT,
  });
  resources.push(...backfill.updated);
  const base = { account, patient: owner, resources, partial: backfill.partial };
  if (request.patient && request.patient.reference !== owner.reference) {
    return {
      ...base,
      outcome: 'refused',
      reason:
        `customer ${request.customerId} is already claimed for ${owner.reference}; the claim for ` +
        `${request.patient.reference} is refused (npm run link-customer -- --move moves it)`,
    };
  }
  return { ...base, outcome: written && request.patient ? 'claimed' : 'held' };
}

/**
 * Adds the customer identifier to the Patient (or closes its period once the customer is deleted),
 * If-Match; nothing else on the Patient changes. True when it wrote.
 */
export async function ensurePatientCarriesCustomer(
  medplum: MedplumClient,
  patient: Reference<Patient>,
  account: Account,
  customerId: string
): Promise<boolean> {
  const id = (patient.reference as string).slice('Patient/'.length);
  const identifier = patientCustomerIdentifier(account, customerId);
  return retryOnConflict(async () => {
    const stored = await medplum.readResource('Patient', id, { cache: 'no-cache' });
    const next = patientWithCustomer(stored, identifier);
    if (!next) {
      return false;
    }
    await medplum.updateResource<Patient>(next, { headers: { 'If-Match': `W/"${stored.meta?.versionId}"` } });
    return true;
  });
}

export interface BackfillRequest {
  readonly customerId: string;
  readonly patient: Reference<Patient>;
  readonly billingAccount: WithId<Account>;
  readonly limit: number;
}

export interface BackfillResult {
  readonly updated: string[];
  readonly partial: boolean;
}

/**
 * Gives the customer's Invoices and Accounts stored without a subject (found by the customer tag)
 * the customer's Patient, and fills a missing `Invoice.recipient`, `Invoice.account` (the billing
 * Account, for Invoices of no subscription) and `Account.partOf` (the billing Account). At most
 * `limit` updates, each If-Match; `partial` when more remain. Safe to repeat.
 */
export async function backfillCustomer(medplum: MedplumClient, request: BackfillRequest): Promise<BackfillResult> {
  const tag = encodeURIComponent(`${STRIPE_SYSTEM.customer}|${request.customerId}`);
  const updated: string[] = [];
  const billingReference = getReferenceString(request.billingAccount);
  for (const resourceType of ['Account', 'Invoice'] as const) {
    while (updated.length < request.limit) {
      const page = Math.min(BACKFILL_LIMIT, request.limit - updated.length);
      const found = (await medplum.searchResources(resourceType, `_tag=${tag}&subject:missing=true&_count=${page}`, {
        cache: 'no-cache',
      })) as WithId<Account | Invoice>[];
      const candidates = found.filter((r) => r.id !== request.billingAccount.id);
      let progressed = false;
      for (const resource of candidates) {
        if (updated.length >= request.limit) {
          break;
        }
        if (await fillSubject(medplum, resource, request.patient, 'customer', billingReference)) {
          updated.push(getReferenceString(resource));
          progressed = true;
        }
      }
      if (found.length < page || !progressed) {
        break;
      }
    }
  }
  const partial = updated.length >= request.limit && (await anyWaiting(medplum, tag, request.billingAccount.id));
  if (updated.length) {
    logInfo('back-filled the customer’s resources', {
      customer: request.customerId,
      patient: request.patient.reference,
      count: updated.length,
      partial,
    });
  }
  return { updated, partial };
}

async function anyWaiting(medplum: MedplumClient, tag: string, billingAccountId: string): Promise<boolean> {
  for (const resourceType of ['Invoice', 'Account'] as const) {
    const found = await medplum.searchResources(resourceType, `_tag=${tag}&subject:missing=true&_count=2`, {
      cache: 'no-cache',
    });
    if (found.some((r) => r.id !== billingAccountId)) {
      return true;
    }
  }
  return false;
}

/**
 * Fills a missing subject (If-Match; on a conflict re-reads and leaves any subject it finds). True
 * when it wrote.
 */
export async function fillSubject(
  medplum: MedplumClient,
  found: WithId<Account | Invoice>,
  patient: Reference<Patient>,
  source: 'customer' | 'subscription' | 'client-reference' | 'metadata',
  billingAccount?: string
): Promise<boolean> {
  let preloaded: WithId<Account | Invoice> | undefined = found;
  return retryOnConflict(async () => {
    const resource =
      preloaded ?? ((await medplum.readResource(found.resourceType, found.id, { cache: 'no-cache' })) as typeof found);
    preloaded = undefined;
    const next = withSubject(resource, patient, source, billingAccount);
    if (!next) {
      return false;
    }
    await medplum.updateResource(next, { headers: { 'If-Match': `W/"${resource.meta?.versionId}"` } });
    return true;
  });
}

/** The resource with `patient` as its missing subject; undefined when it has one. */
export function withSubject<T extends Account | Invoice>(
  resource: T,
  patient: Reference<Patient>,
  source: 'customer' | 'subscription' | 'client-reference' | 'metadata',
  billingAccount?: string
): T | undefined {
  const extension = withSubjectSource(resource.extension, source);
  if (resource.resourceType === 'Invoice') {
    if (resource.subject) {
      return undefined;
    }
    const ofSubscription = (resource.meta?.tag ?? []).some((t) => t.system === STRIPE_SYSTEM.subscription);
    return {
      ...resource,
      extension,
      subject: patient,
      recipient: resource.recipient ?? patient,
      ...(!resource.account && billingAccount && !ofSubscription && { account: { reference: billingAccount } }),
    };
  }
  if (resource.subject?.length) {
    return undefined;
  }
  const isBilling = (resource.identifier ?? []).some((i) => i.system === STRIPE_SYSTEM.customer);
  return {
    ...resource,
    extension,
    subject: [patient],
    ...(!resource.partOf && billingAccount && !isBilling && { partOf: { reference: billingAccount } }),
  };
}

/**
 * Whoever first gives a subscription's Account its subject fills the subject of that
 * subscription's Invoices stored without one (found by the subscription tag), at most `limit`.
 * Returns their references.
 */
export async function fillSubscriptionInvoices(
  medplum: MedplumClient,
  subscriptionIds: readonly string[],
  patient: Reference<Patient>,
  limit = BACKFILL_LIMIT
): Promise<string[]> {
  const filled: string[] = [];
  for (const subscriptionId of subscriptionIds) {
    const tag = encodeURIComponent(`${STRIPE_SYSTEM.subscription}|${subscriptionId}`);
    const invoices = await medplum.searchResources('Invoice', `_tag=${tag}&subject:missing=true&_count=${limit}`, {
      cache: 'no-cache',
    });
    for (const invoice of invoices) {
      if (filled.length < limit && (await fillSubject(medplum, invoice, patient, 'subscription'))) {
        filled.push(`Invoice/${invoice.id}`);
      }
    }
  }
  return filled;
}

/**
 * The invoice bot read the billing Account before a claim and wrote the Invoice after the claim's
 * back-fill searched: looking again after the write closes that gap (one of the two sees the other).
 */
export async function fillSubjectClaimedMeanwhile(
  medplum: MedplumClient,
  written: WithId<Invoice>,
  customerId: string
): Promise<void> {
  const account = await medplum.searchOne('Account', billingAccountQuery(customerId), { cache: 'no-cache' });
  const patient = accountSubject(account);
  if (account && patient) {
    await fillSubject(medplum, written, patient, 'customer', getReferenceString(account));
  }
}

function sameContent(stored: Resource, next: Resource): boolean {
  const { id: _id, meta, ...content } = stored;
  const { id: _nid, meta: nextMeta, ...nextContent } = next;
  return deepEquals(content, nextContent) && deepEquals(meta?.tag ?? [], nextMeta?.tag ?? []);
}
