import type { Account, Invoice } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import { compareEvents } from '../../src/fhir/order';
import { scheduleLifecycle, scheduleStage } from '../../src/machines/subscription-schedule';
import type { StripeEvent, StripeSubscriptionSchedule } from '../../src/stripe/types';
import { comparable } from '../harness/normalize';
import type { TestProject } from '../harness/project';

export type ScheduleEvent = StripeEvent<StripeSubscriptionSchedule>;

/** "Chronological" is the order key of docs/design.md, "Ordering, duplicates, concurrency", not arrival order or event id order. */
export function chronologicalSchedule(events: readonly ScheduleEvent[]): ScheduleEvent[] {
  const key = (e: ScheduleEvent) => ({
    id: e.id,
    created: e.created,
    stage: scheduleStage(e.type, e.data.object.status) as string,
  });
  return [...events].sort((a, b) => compareEvents(key(a), key(b), scheduleLifecycle));
}

/** Delivers events one after the other through the router; each must answer 200. */
export async function deliverAll(project: TestProject, events: readonly unknown[]): Promise<void> {
  for (const event of events) {
    const response = await project.deliver(event);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
  }
}

/** The schedule's Account: the only one besides the customer's billing Account, which it is `partOf`. */
export async function onlyAccount(project: TestProject): Promise<Account> {
  const all = await project.server.all<Account>('Account');
  const billing = all.filter(isBillingAccount);
  expect(billing.length).toBeLessThanOrEqual(1);
  const accounts = all.filter((a) => !isBillingAccount(a));
  expect(accounts).toHaveLength(1);
  return accounts[0] as Account;
}

function isBillingAccount(account: Account): boolean {
  return (account.identifier ?? []).some((i) => i.system === STRIPE_SYSTEM.customer);
}

export async function onlyInvoice(project: TestProject): Promise<Invoice> {
  const invoices = await project.server.all<Invoice>('Invoice');
  expect(invoices).toHaveLength(1);
  return invoices[0] as Invoice;
}

/** The Account without id/meta and with the project's Patient and payee ids replaced by names. */
export function comparableAccount(project: TestProject, account: Account): unknown {
  // The billing Account's id differs between projects: compare that a link exists.
  const stable = account.partOf ? { ...account, partOf: { reference: 'Account/BILLING' } } : account;
  return comparable(stable, { [project.patient.id]: 'PATIENT', [project.payee.id]: 'PAYEE' });
}

export function extensionValue(account: Account, url: string): string | undefined {
  const extension = account.extension?.find((e) => e.url === url);
  return extension?.valueCode ?? extension?.valueString;
}
