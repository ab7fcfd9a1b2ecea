import { getReferenceString, type MedplumClient, type WithId } from '@medplum/core';
import type { Account, Identifier } from '@medplum/fhirtypes';
import { EXTENSION, STRIPE_SYSTEM } from '../constants';
import { retryOnConflict } from '../fhir/retry';
import {
  accountIdentifierQuery,
  accountStripeIds,
  canonicalAccount,
  differs,
  mergeAccounts,
} from '../fhir/shared-account';
import { ConcurrentCreateError, sameContent } from '../fhir/upsert';
import { logWarn } from '../log';
import { relinkInvoices } from './invoice-link';

/** More than one Account found for one subscription is rare; more than this many is not expected at all. */
const MAX_FOUND = 10;

/** The batched-read URL that finds the Accounts of any of `identifiers` (an OR over them). */
export function sharedAccountSearch(identifiers: readonly Identifier[]): string {
  return `Account?${accountIdentifierQuery(identifiers)}&_count=${MAX_FOUND}`;
}

export interface SharedAccountArgs {
  /** Every Stripe id the event names (subscription, schedule): the Account is found by any of them. */
  readonly identifiers: readonly Identifier[];
  /**
   * The Account to store from the stored one (undefined when none), or undefined to leave it. Called
   * again after every conflict. A result with the same content as the stored one writes nothing.
   */
  readonly build: (existing: WithId<Account> | undefined) => Account | undefined;
  /** What a batched read of {@link sharedAccountSearch} found, for the first attempt only. */
  readonly preloaded?: readonly WithId<Account>[];
}

export interface SharedAccountResult {
  readonly resource: WithId<Account> | undefined;
  readonly written: boolean;
  /** References of Accounts merged into `resource` (now entered-in-error) and of Invoices moved with them. */
  readonly merged: readonly string[];
}

/**
 * Create-or-update of a subscription's Account by an OR over every Stripe id the event names, safe
 * under concurrent deliveries: reads by the OR, creates with `If-None-Exist` on the same OR (a server
 * runs conditional creates serializably, so one of two colliding creates gets 409 or finds the
 * other's), updates with `If-Match`, and re-reads and re-applies after a conflict. When the OR finds
 * two Accounts (two deliveries that named disjoint ids each created one) it merges them into the
 * older one first.
 */
export async function upsertSharedAccount(
  medplum: MedplumClient,
  args: SharedAccountArgs
): Promise<SharedAccountResult> {
  const query = accountIdentifierQuery(args.identifiers);
  let preloaded = args.preloaded;
  return retryOnConflict(async () => {
    const found =
      preloaded ?? (await medplum.searchResources('Account', `${query}&_count=${MAX_FOUND}`, { cache: 'no-cache' }));
    preloaded = undefined;
    if (found.length > 1) {
      return mergeAndWrite(medplum, [...found], args.build);
    }
    const existing = found[0];
    const next = args.build(existing);
    if (!next || (existing && !differs(existing, next))) {
      return { resource: existing, written: false, merged: [] };
    }
    if (existing) {
      const updated = await medplum.updateResource<Account>(
        { ...next, id: existing.id },
        { headers: { 'If-Match': `W/"${existing.meta?.versionId}"` } }
      );
      return { resource: updated, written: true, merged: [] };
    }
    const created = await medplum.createResourceIfNoneExist<Account>(next, query);
    if (!sameContent(created, next)) {
      // Another delivery created it between our read and our create: apply ours on top of theirs.
      throw new ConcurrentCreateError();
    }
    return { resource: created, written: true, merged: [] };
  });
}

/**
 * Merges the Accounts found into the oldest (identifiers, markers, `partOf`, Invoice links; subject
 * only where missing), applies the event on the result, writes it, then moves the others' Invoices and
 * marks the others `entered-in-error` without Stripe identifiers, so that later OR searches find one.
 * Each write is conditional: a conflict re-runs the whole attempt, which finds what is left to do.
 */
async function mergeAndWrite(
  medplum: MedplumClient,
  found: WithId<Account>[],
  build: SharedAccountArgs['build']
): Promise<SharedAccountResult> {
  const [winner, ...losers] = await oldestFirst(medplum, found);
  if (!winner) {
    throw new Error('mergeAndWrite needs Accounts');
  }
  const merged = mergeAccounts(winner, losers);
  const next = build(merged) ?? merged;
  const updated = await medplum.updateResource<Account>(
    { ...next, id: winner.id },
    { headers: { 'If-Match': `W/"${winner.meta?.versionId}"` } }
  );
  const reference = getReferenceString(updated);
  const references: string[] = [];
  for (const loser of losers) {
    const loserReference = getReferenceString(loser);
    references.push(loserReference, ...(await relinkInvoices(medplum, loserReference, reference)));
    await medplum.updateResource<Account>(retired(loser, reference), {
      headers: { 'If-Match': `W/"${loser.meta?.versionId}"` },
    });
  }
  logWarn('merged Accounts of one subscription', { into: reference, merged: references });
  return { resource: updated, written: true, merged: references };
}

/** The merged-away Account: `entered-in-error`, without the Stripe ids and tag that would find it again. */
function retired(loser: WithId<Account>, into: string): WithId<Account> {
  const stripeIds = new Set(accountStripeIds(loser));
  return canonicalAccount({
    ...loser,
    status: 'entered-in-error',
    identifier: (loser.identifier ?? []).filter((i) => !stripeIds.has(i)),
    meta: { ...loser.meta, tag: (loser.meta?.tag ?? []).filter((t) => t.system !== STRIPE_SYSTEM.customer) },
    extension: [
      ...(loser.extension ?? []).filter((e) => e.url !== EXTENSION.statusReason),
      { url: EXTENSION.statusReason, valueString: `Merged into ${into}: both Accounts named one Stripe subscription` },
    ],
  });
}

/** The Accounts by the time their first version was written (then id), oldest first. */
async function oldestFirst(medplum: MedplumClient, accounts: WithId<Account>[]): Promise<WithId<Account>[]> {
  const born = new Map<string, string>();
  for (const account of accounts) {
    const history = await medplum.readHistory('Account', account.id, {}, { cache: 'no-cache' });
    const times = (history.entry ?? []).flatMap((e) =>
      e.resource?.meta?.lastUpdated ? [e.resource.meta.lastUpdated] : []
    );
    born.set(account.id, times.sort()[0] ?? account.meta?.lastUpdated ?? '');
  }
  const key = (a: WithId<Account>) => born.get(a.id) ?? '';
  return [...accounts].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id < b.id ? -1 : 1));
}
