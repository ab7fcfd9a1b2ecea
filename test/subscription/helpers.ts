import type { Account } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import { compareEvents } from '../../src/event-order';
import { subscriptionLifecycle, subscriptionStage } from '../../src/machines/subscription';
import type { StripeEvent, StripeSubscription } from '../../src/stripe/types';
import { STRIPE_SYSTEM } from '../../src/constants';
import { comparable } from '../harness/normalize';
import type { TestProject } from '../harness/project';

export type SubscriptionEvent = StripeEvent<StripeSubscription>;

/** "Chronological" is the order key (terminal or not, created, rank, id), not arrival or id order. */
export function chronologicalSubscription(events: readonly SubscriptionEvent[]): SubscriptionEvent[] {
  const key = (e: SubscriptionEvent) => ({
    id: e.id,
    created: e.created,
    stage: subscriptionStage(e.type, e.data.object.status) as string,
  });
  return [...events].sort((a, b) => compareEvents(key(a), key(b), subscriptionLifecycle));
}

/**
 * The subscription (and schedule) Accounts a project holds, merged-away ones included; the customer's
 * billing Account, which every subscription Account is `partOf`, is not one of them.
 */
export async function subscriptionAccounts(project: TestProject): Promise<Account[]> {
  return (await project.server.all<Account>('Account')).filter((a) => !isBillingAccount(a));
}

function isBillingAccount(account: Account): boolean {
  const ours = new Set<string>([STRIPE_SYSTEM.subscription, STRIPE_SYSTEM.subscriptionSchedule]);
  return (
    !(account.identifier ?? []).some((i) => i.system && ours.has(i.system)) && account.status !== 'entered-in-error'
  );
}

/** The subscription Accounts a project holds that are not merged away (`entered-in-error`). */
export async function liveAccounts(project: TestProject): Promise<Account[]> {
  return (await subscriptionAccounts(project)).filter((a) => a.status !== 'entered-in-error');
}

/** The one live Account (a merged-away one may exist beside it). */
export async function onlyLiveAccount(project: TestProject): Promise<Account> {
  const accounts = await liveAccounts(project);
  expect(accounts, JSON.stringify(accounts.map((a) => a.identifier))).toHaveLength(1);
  return accounts[0] as Account;
}

/** The item extensions of an Account as `price × quantity` strings. */
export function itemsOf(account: Account): string[] {
  return (account.extension ?? [])
    .filter((e) => e.url.endsWith(':subscription-item'))
    .map((e) => {
      const part = (url: string) => e.extension?.find((p) => p.url === url);
      return `${part('price')?.valueCoding?.code} × ${part('quantity')?.valueInteger}`;
    });
}

/**
 * An Account as a test compares it: without id and meta (tags kept), the project's own ids named
 * (its Patient, payee and the billing Account it is `partOf`, which have other ids in each project).
 */
export function comparableAccount(project: TestProject, account: Account | undefined): unknown {
  const billing = account?.partOf?.reference?.split('/')[1];
  return comparable(account, {
    [project.patient.id]: 'PATIENT',
    [project.payee.id]: 'PAYEE',
    ...(billing && { [billing]: 'BILLING' }),
  });
}
