import { getReferenceString, type MedplumClient, type WithId } from '@medplum/core';
import type { Account, Invoice } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';
import { retryOnConflict } from '../fhir/retry';
import { logInfo } from '../log';

/** Invoices linked per search page; a schedule rarely has more waiting. */
const LINK_PAGE_SIZE = 50;
/** Bound on link pages per subscription, so that a link that cannot stick never loops. */
const LINK_MAX_PAGES = 20;

/** Invoices of a subscription (tagged by the invoice bot) that carry no `account` yet. */
export function unlinkedInvoicesQuery(subscriptionId: string, count: number): string {
  const tag = encodeURIComponent(`${STRIPE_SYSTEM.subscription}|${subscriptionId}`);
  return `_tag=${tag}&account:missing=true&_count=${count}`;
}

/**
 * Sets `Invoice.account` on the Invoices of the Account's subscriptions that have none (DESIGN
 * section 4: the link ends in place whichever event arrives first). Returns their references.
 */
export async function linkInvoices(
  medplum: MedplumClient,
  account: WithId<Account>,
  subscriptionIds: readonly string[]
): Promise<string[]> {
  const reference = getReferenceString(account);
  const linked: string[] = [];
  for (const subscriptionId of subscriptionIds) {
    const seen = new Set<string>();
    for (let page = 0; page < LINK_MAX_PAGES; page++) {
      const invoices = await medplum.searchResources('Invoice', unlinkedInvoicesQuery(subscriptionId, LINK_PAGE_SIZE), {
        cache: 'no-cache',
      });
      const fresh = invoices.filter((invoice) => !seen.has(invoice.id));
      for (const invoice of fresh) {
        seen.add(invoice.id);
        if (await linkInvoice(medplum, invoice, reference)) {
          linked.push(`Invoice/${invoice.id}`);
        }
      }
      if (invoices.length < LINK_PAGE_SIZE || fresh.length === 0) {
        break;
      }
    }
  }
  if (linked.length) {
    logInfo('linked invoices to subscription account', { account: reference, invoices: linked });
  }
  return linked;
}

/**
 * Moves the Invoices linked to a merged-away Account (`from`) to the Account it was merged into (`to`).
 * Returns their references.
 */
export async function relinkInvoices(medplum: MedplumClient, from: string, to: string): Promise<string[]> {
  const moved: string[] = [];
  for (let page = 0; page < LINK_MAX_PAGES; page++) {
    const query = `account=${encodeURIComponent(from)}&_count=${LINK_PAGE_SIZE}`;
    const invoices = await medplum.searchResources('Invoice', query, { cache: 'no-cache' });
    for (const invoice of invoices) {
      if (await linkInvoice(medplum, invoice, to, from)) {
        moved.push(`Invoice/${invoice.id}`);
      }
    }
    if (invoices.length < LINK_PAGE_SIZE) {
      break;
    }
  }
  if (moved.length) {
    logInfo('moved invoices to the Account their subscription Account was merged into', { from, to, invoices: moved });
  }
  return moved;
}

/**
 * Sets the Invoice's `account` with If-Match when it has none (or, for a merge, when it still points
 * at `replacing`); on a conflict re-reads it and leaves any other link it finds.
 */
async function linkInvoice(
  medplum: MedplumClient,
  found: WithId<Invoice>,
  reference: string,
  replacing?: string
): Promise<boolean> {
  let preloaded: WithId<Invoice> | undefined = found;
  return retryOnConflict(async () => {
    const invoice = preloaded ?? (await medplum.readResource('Invoice', found.id, { cache: 'no-cache' }));
    preloaded = undefined;
    if (invoice.account && (replacing === undefined || invoice.account.reference !== replacing)) {
      return false;
    }
    await medplum.updateResource<Invoice>(
      { ...invoice, account: { reference } },
      { headers: { 'If-Match': `W/"${invoice.meta?.versionId}"` } }
    );
    return true;
  });
}
