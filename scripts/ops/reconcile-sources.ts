/**
 * The I/O of `npm run reconcile`: Stripe's objects, listed page by page (`starting_after`), and the
 * FHIR resources, read in bulk by identifier system (one paged search per type and system).
 */
import type { MedplumClient } from '@medplum/core';
import type { Account, Invoice, Money, PaymentNotice, PaymentReconciliation } from '@medplum/fhirtypes';
import type Stripe from 'stripe';
import type { Logger } from './cli';
import { storedKey, type FhirTarget, type ListedObject, type ObjectKind, type StoredState } from './reconcile-compare';

export interface Window {
  readonly since: Date;
  readonly until?: Date;
}

interface Page {
  readonly data: readonly unknown[];
  readonly has_more: boolean;
}

type Lister = (stripe: Stripe, params: Record<string, unknown>) => Promise<Page>;

/** How each kind is listed (all statuses: the comparison decides what is mapped). */
const LISTERS: Readonly<Record<ObjectKind, Lister>> = {
  invoice: (s, p) => s.invoices.list(p),
  // The charge, so that a rebuilt payment keeps its success time (the charge's `created`).
  payment_intent: (s, p) => s.paymentIntents.list({ ...p, expand: ['data.latest_charge'] }),
  refund: (s, p) => s.refunds.list(p),
  checkout_session: (s, p) => s.checkout.sessions.list(p),
  subscription: (s, p) => s.subscriptions.list({ ...p, status: 'all' }),
  customer: (s, p) => s.customers.list(p),
};

/** Every object of `kind` created in the window, newest first as Stripe lists them. */
export async function listStripeObjects(
  stripe: Stripe,
  kind: ObjectKind,
  window: Window,
  log?: Logger
): Promise<ListedObject[]> {
  const created = {
    gte: Math.floor(window.since.getTime() / 1000),
    ...(window.until && { lt: Math.ceil(window.until.getTime() / 1000) }),
  };
  const objects: ListedObject[] = [];
  let startingAfter: string | undefined;
  for (let page = 1; ; page++) {
    const list = await LISTERS[kind](stripe, {
      limit: 100,
      created,
      ...(startingAfter && { starting_after: startingAfter }),
    });
    objects.push(...(list.data as ListedObject[]));
    const last = list.data[list.data.length - 1] as ListedObject | undefined;
    if (!list.has_more || !last) {
      break;
    }
    startingAfter = last.id;
    if (page % 10 === 0) {
      log?.info(`reconcile: ${objects.length} ${kind} object(s) listed so far…`);
    }
  }
  return objects;
}

type Stored = Invoice | PaymentReconciliation | PaymentNotice | Account;

function amountOf(resource: Stored): Money | undefined {
  switch (resource.resourceType) {
    case 'Invoice':
      return resource.totalGross;
    case 'PaymentReconciliation':
      return resource.paymentAmount;
    case 'PaymentNotice':
      return resource.amount;
    default:
      return undefined;
  }
}

/**
 * Every resource of one type with an identifier of `system` (`identifier=<system>|`), page by
 * page, into `into` keyed by type, system and value.
 */
export async function readStored(
  medplum: MedplumClient,
  target: FhirTarget,
  into: Map<string, StoredState>,
  pageSize = 200
): Promise<void> {
  const query = new URLSearchParams({ identifier: `${target.system}|`, _count: String(pageSize) });
  for await (const page of medplum.searchResourcePages(target.resourceType, query)) {
    for (const resource of page as Stored[]) {
      for (const identifier of resource.identifier ?? []) {
        if (identifier.system === target.system && identifier.value) {
          const amount = amountOf(resource);
          into.set(storedKey(target.resourceType, target.system, identifier.value), {
            id: resource.id as string,
            ...(resource.status && { status: resource.status }),
            ...(amount && { amount }),
          });
        }
      }
    }
  }
}
