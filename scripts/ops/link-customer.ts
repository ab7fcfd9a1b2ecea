import { getReferenceString, type MedplumClient, type WithId } from '@medplum/core';
import type { Account, Invoice, Patient, Reference } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../../src/constants';
import {
  accountSubject,
  billingAccountQuery,
  readSubjectSource,
  taggedCustomerId,
} from '../../src/fhir/billing-account';
import { retryOnConflict } from '../../src/fhir/retry';
import { claimCustomer } from '../../src/handlers/customer-claim';
import { OpsError, type Logger } from './cli';

export interface LinkRequest {
  /** `cus_…`. */
  readonly customerId: string;
  /** `Patient/<id>`. */
  readonly patient: string;
  /** Take the customer from the Patient that holds it (rewrites only customer-derived subjects). */
  readonly move?: boolean;
  /** Asked before a move; the CLI answers from the terminal or `--yes`. */
  readonly confirm?: (question: string) => Promise<boolean>;
}

export interface LinkSummary {
  readonly account: string;
  readonly patient: string;
  /** Resources given the Patient as subject (back-fill), or moved to it. */
  readonly linked: number;
  readonly moved: number;
  readonly from?: string;
}

/**
 * `npm run link-customer -- --customer cus_… --patient Patient/…`: claims the customer by hand,
 * through the same claim and back-fill the stripe-customer bot runs, without the per-run bound.
 * With `move`, a customer claimed for another Patient is taken from it: the billing Account's
 * subject, the customer identifier, and the subjects that came from the customer are rewritten.
 */
export async function linkCustomer(medplum: MedplumClient, request: LinkRequest, log: Logger): Promise<LinkSummary> {
  if (!/^cus_[A-Za-z0-9]+$/.test(request.customerId)) {
    throw new OpsError(`--customer must be a Stripe customer id (cus_…), not "${request.customerId}"`);
  }
  const patientId = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(request.patient)?.[1];
  if (!patientId) {
    throw new OpsError(`--patient must be a reference such as Patient/123, not "${request.patient}"`);
  }
  const patient = await medplum.readResource('Patient', patientId).catch(() => undefined);
  if (!patient) {
    throw new OpsError(`${request.patient} does not exist: the command never creates Patients`);
  }
  const target: Reference<Patient> = { reference: `Patient/${patientId}` };
  const stored = (await medplum.searchOne('Account', billingAccountQuery(request.customerId), {
    cache: 'no-cache',
  })) as WithId<Account> | undefined;
  const holder = accountSubject(stored);
  let moved = 0;
  let from: string | undefined;
  if (stored && holder && holder.reference !== target.reference) {
    if (!request.move) {
      throw new OpsError(
        `${request.customerId} is already linked to ${holder.reference}. To take it from that Patient, run again ` +
          'with --move (it rewrites the subjects that came from the customer; those an object’s own metadata named stay)'
      );
    }
    const question = `Move ${request.customerId} from ${holder.reference} to ${target.reference}?`;
    if (request.confirm && !(await request.confirm(question))) {
      throw new OpsError('not moved: the move was not confirmed (--yes confirms in scripts)');
    }
    from = holder.reference;
    moved = await moveCustomer(medplum, request.customerId, stored, holder, target, log);
  }
  const claim = await claimCustomer(medplum, {
    customerId: request.customerId,
    patient: target,
    backfillLimit: Number.POSITIVE_INFINITY,
  });
  if (claim.outcome === 'refused') {
    throw new OpsError(claim.reason ?? `${request.customerId} is linked to another Patient`);
  }
  const linked = claim.resources.filter((r) => !r.startsWith('Patient/')).length;
  log.info(
    `${request.customerId} → ${target.reference}: billing ${getReferenceString(claim.account)}, ` +
      `${linked} resource(s) back-filled${from ? `, ${moved} moved from ${from}` : ''}`
  );
  return {
    account: getReferenceString(claim.account),
    patient: target.reference as string,
    linked,
    moved,
    ...(from && { from }),
  };
}

async function moveCustomer(
  medplum: MedplumClient,
  customerId: string,
  account: WithId<Account>,
  from: Reference<Patient>,
  to: Reference<Patient>,
  log: Logger
): Promise<number> {
  await updateIfMatch(medplum, account, (current) =>
    accountSubject(current)?.reference === from.reference ? { ...current, subject: [to] } : undefined
  );
  const fromId = (from.reference as string).slice('Patient/'.length);
  const oldPatient = await medplum.readResource('Patient', fromId);
  await updateIfMatch(medplum, oldPatient, (current) => {
    const identifier = (current.identifier ?? []).filter(
      (i) => !(i.system === STRIPE_SYSTEM.customer && i.value === customerId)
    );
    return identifier.length === (current.identifier ?? []).length ? undefined : { ...current, identifier };
  });
  const tag = encodeURIComponent(`${STRIPE_SYSTEM.customer}|${customerId}`);
  let moved = 0;
  for (const resourceType of ['Invoice', 'Account'] as const) {
    for await (const page of medplum.searchResourcePages(
      resourceType,
      `_tag=${tag}&subject=${from.reference}&_count=100`,
      {
        cache: 'no-cache',
      }
    )) {
      for (const resource of page as WithId<Invoice | Account>[]) {
        if (resource.id === account.id || readSubjectSource(resource) !== 'customer') {
          continue;
        }
        const wrote = await updateIfMatch(medplum, resource, (current) => moveSubject(current, from, to));
        moved += wrote ? 1 : 0;
      }
    }
  }
  log.info(`moved ${moved} customer-derived subject(s) from ${from.reference} to ${to.reference}`);
  return moved;
}

function moveSubject<T extends Invoice | Account>(
  resource: T,
  from: Reference<Patient>,
  to: Reference<Patient>
): T | undefined {
  if (readSubjectSource(resource) !== 'customer') {
    return undefined;
  }
  if (resource.resourceType === 'Invoice') {
    return resource.subject?.reference === from.reference
      ? {
          ...resource,
          subject: to,
          ...(resource.recipient?.reference === from.reference && { recipient: to }),
        }
      : undefined;
  }
  return resource.subject?.[0]?.reference === from.reference ? { ...resource, subject: [to] } : undefined;
}

async function updateIfMatch<T extends Patient | Invoice | Account>(
  medplum: MedplumClient,
  found: WithId<T>,
  change: (current: WithId<T>) => T | undefined
): Promise<boolean> {
  let preloaded: WithId<T> | undefined = found;
  return retryOnConflict(async () => {
    const current =
      preloaded ?? ((await medplum.readResource(found.resourceType, found.id, { cache: 'no-cache' })) as WithId<T>);
    preloaded = undefined;
    const next = change(current);
    if (!next) {
      return false;
    }
    await medplum.updateResource(next, { headers: { 'If-Match': `W/"${current.meta?.versionId}"` } });
    return true;
  });
}

export interface UnlinkedCustomer {
  readonly customerId: string;
  /** Invoices and Accounts tagged with the customer that have no subject. */
  readonly waiting: number;
  /** Whether its billing Account exists (without a subject). */
  readonly hasBillingAccount: boolean;
}

/**
 * `npm run link-customer -- --report`: the Stripe customers seen in the store (tags and billing
 * Accounts) that have no Patient, with how many resources wait for one. Reads page by page.
 */
export async function reportUnlinkedCustomers(medplum: MedplumClient): Promise<UnlinkedCustomer[]> {
  const waiting = new Map<string, number>();
  const billing = new Map<string, boolean>();
  for (const resourceType of ['Invoice', 'Account'] as const) {
    for await (const page of medplum.searchResourcePages(resourceType, 'subject:missing=true&_count=500', {
      cache: 'no-cache',
    })) {
      for (const resource of page as (Invoice | Account)[]) {
        const customerId = billingCustomerId(resource);
        if (customerId) {
          billing.set(customerId, true);
          continue;
        }
        const tagged = taggedCustomerId(resource);
        if (tagged) {
          waiting.set(tagged, (waiting.get(tagged) ?? 0) + 1);
        }
      }
    }
  }
  const claimed = new Set<string>();
  for (const customerId of waiting.keys()) {
    if (!billing.has(customerId)) {
      const account = await medplum.searchOne('Account', billingAccountQuery(customerId), { cache: 'no-cache' });
      if (accountSubject(account)) {
        claimed.add(customerId);
      }
    }
  }
  return [...new Set([...waiting.keys(), ...billing.keys()])]
    .filter((customerId) => !claimed.has(customerId))
    .sort()
    .map((customerId) => ({
      customerId,
      waiting: waiting.get(customerId) ?? 0,
      hasBillingAccount: billing.has(customerId),
    }));
}

function billingCustomerId(resource: Invoice | Account): string | undefined {
  return resource.resourceType === 'Account'
    ? resource.identifier?.find((i) => i.system === STRIPE_SYSTEM.customer)?.value
    : undefined;
}
