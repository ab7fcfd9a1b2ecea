import { deepEquals } from '@medplum/core';
import type { Account, Coding, Extension, Identifier, Patient, Reference } from '@medplum/fhirtypes';
import { EXTENSION, STRIPE_SYSTEM } from '../constants';
import { compareEvents, type AppliedEvent, type Lifecycle } from '../event-order';
import { subscriptionLifecycle } from '../machines/subscription';
import { scheduleLifecycle } from '../machines/subscription-schedule';
import { readAppliedEvent } from './order';

/**
 * The Account a subscription shares with the schedules that managed it: one Account per subscription,
 * written by two bots (schedule and subscription), each keeping its own part. Pure rules only.
 *
 * - Each machine owns its extensions ({@link SCHEDULE_EXTENSIONS}, {@link SUBSCRIPTION_EXTENSIONS}) and
 *   compares only against its own marker.
 * - Once a subscription event has been applied, the subscription decides `status`, `servicePeriod`,
 *   `name` and `owner` ({@link subscriptionKnown}); the schedule decides them only before.
 * - Identifiers, tags and extensions are unions kept in one canonical order ({@link canonicalAccount}),
 *   so that arrival order never changes the stored resource.
 */

/** The patient billing account type of HL7 v3 ActCode. */
export const ACCOUNT_TYPE = {
  coding: [
    {
      system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
      code: 'PBILLACCT',
      display: 'patient billing account',
    },
  ],
};

/** The schedule machine's part of the Account. */
export const SCHEDULE_EXTENSIONS: ReadonlySet<string> = new Set([
  EXTENSION.lastAppliedEvent,
  EXTENSION.stripeStatus,
  EXTENSION.machineState,
  EXTENSION.statusReason,
]);

/** The subscription machine's part of the Account. */
export const SUBSCRIPTION_EXTENSIONS: ReadonlySet<string> = new Set([
  EXTENSION.subscriptionLastAppliedEvent,
  EXTENSION.subscriptionStatus,
  EXTENSION.subscriptionMachineState,
  EXTENSION.trialEnd,
  EXTENSION.subscriptionItem,
]);

/** The elements whose value the deciding object (subscription once known, else schedule) sets. */
const DECIDED = ['status', 'servicePeriod', 'name', 'owner'] as const;

/** The Stripe identifier systems that name a subscription's Account (searched with an OR). */
const ACCOUNT_ID_SYSTEMS: ReadonlySet<string> = new Set([
  STRIPE_SYSTEM.subscription,
  STRIPE_SYSTEM.subscriptionSchedule,
]);

export function subscriptionMarker(account: Account | undefined): AppliedEvent | undefined {
  return readAppliedEvent(account, EXTENSION.subscriptionLastAppliedEvent);
}

export function scheduleMarker(account: Account | undefined): AppliedEvent | undefined {
  return readAppliedEvent(account, EXTENSION.lastAppliedEvent);
}

/** True once any subscription event has been applied to the Account: the subscription then decides its status. */
export function subscriptionKnown(account: Account | undefined): boolean {
  return subscriptionMarker(account) !== undefined;
}

/** The Stripe subscription and schedule identifiers an Account carries. */
export function accountStripeIds(account: Account | undefined): Identifier[] {
  return (account?.identifier ?? []).filter((i) => i.system !== undefined && ACCOUNT_ID_SYSTEMS.has(i.system));
}

/**
 * The search that finds the Account of any of `identifiers` (an OR: `identifier=a|x,b|y`), for reads
 * and for `If-None-Exist`. Canonical order, so that two bots naming the same ids send the same query.
 */
export function accountIdentifierQuery(identifiers: readonly Identifier[]): string {
  const tokens = canonicalIdentifiers(identifiers).map((i) => `${i.system}|${i.value}`);
  return `identifier=${encodeURIComponent(tokens.join(','))}`;
}

/** The customer tag that back-links find an Account by (`https://stripe.com/customer/id|cus_…`). */
export function customerTag(customerId: string | undefined): Coding[] {
  return customerId ? [{ system: STRIPE_SYSTEM.customer, code: customerId }] : [];
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Identifiers without duplicates (same system and value), ordered by system, then value. */
export function canonicalIdentifiers(identifiers: readonly Identifier[]): Identifier[] {
  const seen = new Set<string>();
  const unique = identifiers.filter((i) => {
    const key = `${i.system ?? ''}|${i.value ?? ''}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
  return unique.sort((a, b) => byText(a.system ?? '', b.system ?? '') || byText(a.value ?? '', b.value ?? ''));
}

function canonicalTags(tags: readonly Coding[]): Coding[] {
  const seen = new Set<string>();
  const unique = tags.filter((t) => {
    const key = `${t.system ?? ''}|${t.code ?? ''}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
  return unique.sort((a, b) => byText(a.system ?? '', b.system ?? '') || byText(a.code ?? '', b.code ?? ''));
}

/** Extensions ordered by url, then by value (their JSON), so that several of one url have one order. */
function canonicalExtensions(extensions: readonly Extension[]): Extension[] {
  const keyed = extensions.map((e) => ({ e, key: JSON.stringify(e) }));
  keyed.sort((a, b) => byText(a.e.url, b.e.url) || byText(a.key, b.key));
  return keyed.filter((k, i) => i === 0 || k.key !== keyed[i - 1]?.key).map((k) => k.e);
}

/**
 * The Account with identifiers, tags and extensions in canonical order and without duplicates, and
 * without empty elements (FHIR forbids empty arrays and objects).
 */
export function canonicalAccount<T extends Account>(account: T): T {
  const result: Record<string, unknown> = { ...(account as Record<string, unknown>) };
  const identifier = canonicalIdentifiers(account.identifier ?? []);
  const extension = canonicalExtensions(account.extension ?? []);
  const tag = canonicalTags(account.meta?.tag ?? []);
  result.identifier = identifier.length ? identifier : undefined;
  result.extension = extension.length ? extension : undefined;
  const meta: Record<string, unknown> = { ...account.meta, tag: tag.length ? tag : undefined };
  result.meta = compact(meta);
  return compact(result) as T;
}

/** Drops keys whose value is undefined, an empty array or an empty object. */
function compact(value: Record<string, unknown>): Record<string, unknown> | undefined {
  const entries = Object.entries(value).filter(
    ([, v]) =>
      v !== undefined &&
      !(Array.isArray(v) && v.length === 0) &&
      !(typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)
  );
  return entries.length ? Object.fromEntries(entries) : undefined;
}

/** The existing Account's extensions that `owned` does not name (the other machine's, and foreign ones). */
export function otherExtensions(existing: Account | undefined, owned: ReadonlySet<string>): Extension[] {
  return (existing?.extension ?? []).filter((e) => !owned.has(e.url));
}

/** What an event names besides its machine's part: ids, customer tag, Patient. */
export interface AccountNames {
  /** Stripe ids the event names (subscription, schedule). */
  readonly identifiers: readonly Identifier[];
  readonly customerId?: string;
  /** The Patient found for the event; only fills a missing subject. */
  readonly patient?: Reference<Patient>;
}

/**
 * The stored Account with the event's names added: ids and customer tag unioned in, subject filled
 * when missing. Everything else stays. Without a stored Account: a bare one (status `unknown`) that
 * the caller's mapping fills.
 */
export function withNames(existing: Account | undefined, names: AccountNames): Account {
  const base: Account = existing ?? { resourceType: 'Account', status: 'unknown' };
  const { id: _id, meta, ...rest } = base;
  const { versionId: _versionId, lastUpdated: _lastUpdated, ...keptMeta } = meta ?? {};
  return canonicalAccount<Account>({
    ...rest,
    meta: { ...keptMeta, tag: [...(meta?.tag ?? []), ...customerTag(names.customerId)] },
    identifier: [...(base.identifier ?? []), ...names.identifiers],
    subject: base.subject?.length ? base.subject : names.patient ? [names.patient] : undefined,
  });
}

/** True when `a` and `b` differ in content (id and meta other than tags ignored). */
export function differs(a: Account | undefined, b: Account): boolean {
  if (!a) {
    return true;
  }
  const strip = (r: Account) => {
    const { id: _id, meta, ...rest } = r;
    return { ...rest, tag: meta?.tag ?? [] };
  };
  return !deepEquals(strip(a), strip(b));
}

/** The side whose marker of `lifecycle` is newer (undefined when neither has one). */
function newerPart(
  accounts: readonly Account[],
  marker: (a: Account) => AppliedEvent | undefined,
  lifecycle: Lifecycle
): Account | undefined {
  let best: { account: Account; applied: AppliedEvent } | undefined;
  for (const account of accounts) {
    const applied = marker(account);
    if (applied && (!best || compareEvents(applied, best.applied, lifecycle) > 0)) {
      best = { account, applied };
    }
  }
  return best?.account;
}

/**
 * Merges Accounts of one subscription into `winner` (the older one): identifiers and tags are unioned;
 * each machine's part comes from the Account whose marker of that machine is newer; the decided
 * elements (status, period, name, owner) from the Account whose part decides (the subscription's once
 * any has one, else the schedule's); subject and `partOf` only fill missing ones; other extensions of a
 * loser join when the winner has none of that url. Pure: the caller writes the result.
 */
export function mergeAccounts<T extends Account>(winner: T, losers: readonly Account[]): T {
  const all = [winner, ...losers];
  const subscriptionSide = newerPart(all, subscriptionMarker, subscriptionLifecycle);
  const scheduleSide = newerPart(all, scheduleMarker, scheduleLifecycle);
  const decider = subscriptionSide ?? scheduleSide ?? winner;
  const foreignUrls = new Set((winner.extension ?? []).map((e) => e.url));
  const foreign = [
    ...otherExtensions(winner, new Set([...SCHEDULE_EXTENSIONS, ...SUBSCRIPTION_EXTENSIONS])),
    ...losers.flatMap((l) =>
      otherExtensions(l, new Set([...SCHEDULE_EXTENSIONS, ...SUBSCRIPTION_EXTENSIONS])).filter(
        (e) => !foreignUrls.has(e.url)
      )
    ),
  ];
  const merged: Record<string, unknown> = {
    ...(winner as Record<string, unknown>),
    identifier: all.flatMap((a) => a.identifier ?? []),
    meta: { ...winner.meta, tag: all.flatMap((a) => a.meta?.tag ?? []) },
    extension: [
      ...foreign,
      ...(scheduleSide?.extension ?? []).filter((e) => SCHEDULE_EXTENSIONS.has(e.url)),
      ...(subscriptionSide?.extension ?? []).filter((e) => SUBSCRIPTION_EXTENSIONS.has(e.url)),
    ],
    subject: all.find((a) => a.subject?.length)?.subject,
    partOf: all.find((a) => a.partOf)?.partOf,
    type: all.find((a) => a.type)?.type,
  };
  for (const key of DECIDED) {
    merged[key] = decider[key];
  }
  return canonicalAccount(merged as unknown as T);
}
