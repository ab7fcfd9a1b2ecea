import type { Account, Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import { readAppliedEvent } from '../../src/fhir/order';
import { invoiceLifecycleEvents, scheduleLifecycleEvents } from '../../lib/stripe-events/events';
import { subscriptionLifecycleEvents } from '../../lib/stripe-events/subscription';
import { createTestProject } from '../harness/project';
import { deliverAll } from '../subscription-schedule/helpers';
import {
  liveAccounts,
  onlyLiveAccount,
  type SubscriptionEvent,
  subscriptionAccounts,
  comparableAccount,
} from './helpers';

const T = 1_760_000_000;
const ids = (account: Account) => (account.identifier ?? []).map((i) => `${i.system}|${i.value}`);
const SUB = STRIPE_SYSTEM.subscription;
const SCHED = STRIPE_SYSTEM.subscriptionSchedule;

/** A schedule that starts subscription `sub_1<tail>` at T+1, and that subscription's events from then on. */
function scheduled(tail: string, lifecycle: 'released' | 'canceled' | 'completed') {
  const schedule = { id: `sub_sched_1${tail}`, subscription: `sub_1${tail}` };
  const scheduleEvents = scheduleLifecycleEvents(schedule, lifecycle, { start: T, gaps: [1, 10] });
  return { schedule, scheduleEvents };
}

describe('status authority on the shared Account', () => {
  it('a released schedule whose subscription is active leaves the Account active; schedule alone reads inactive', async () => {
    const { scheduleEvents } = scheduled('Released', 'released');
    const [created, started, released] = scheduleEvents;
    const subscription = subscriptionLifecycleEvents(
      { id: 'sub_1Released', schedule: 'sub_sched_1Released' },
      'paused-resumed',
      { start: T + 1 }
    )[0] as SubscriptionEvent;

    const scheduleOnly = await createTestProject();
    await deliverAll(scheduleOnly, [created, started, released]);
    expect((await onlyLiveAccount(scheduleOnly)).status).toBe('inactive');

    const both = await createTestProject();
    await deliverAll(both, [created, started, subscription, released]);
    const account = await onlyLiveAccount(both);
    expect(account.status).toBe('active');
    // The schedule's part still says released; the subscription's part decides the status.
    expect(account.extension?.find((e) => e.url === EXTENSION.machineState)?.valueCode).toBe('released');
    expect(account.extension?.find((e) => e.url === EXTENSION.subscriptionMachineState)?.valueCode).toBe('active');
    expect(ids(account)).toEqual([`${SUB}|sub_1Released`, `${SCHED}|sub_sched_1Released`]);
    expect(account.servicePeriod).toEqual({ start: new Date((T + 1) * 1000).toISOString().replace('.000Z', 'Z') });
  });

  it('customer.subscription.deleted makes the Account inactive whatever the schedule says', async () => {
    const { scheduleEvents } = scheduled('Deleted', 'completed');
    const [created, , started] = scheduleEvents;
    const events = subscriptionLifecycleEvents(
      { id: 'sub_1Deleted', schedule: 'sub_sched_1Deleted' },
      'past-due-then-canceled',
      { start: T + 1 }
    );
    const project = await createTestProject();
    // The deletion arrives first; the schedule's later `active` must not revive the Account.
    await deliverAll(project, [events[4], created, started]);
    const account = await onlyLiveAccount(project);
    expect(account.status).toBe('inactive');
    expect(account.extension?.find((e) => e.url === EXTENSION.machineState)?.valueCode).toBe('active');
  });

  it('schedule first or subscription first: one Account with the same content', async () => {
    const { scheduleEvents } = scheduled('EitherOrder', 'canceled');
    const subscriptionEvents = subscriptionLifecycleEvents(
      { id: 'sub_1EitherOrder', schedule: 'sub_sched_1EitherOrder' },
      'trial',
      { start: T + 1 }
    );
    const a = await createTestProject();
    await deliverAll(a, [...scheduleEvents, ...subscriptionEvents]);
    const b = await createTestProject();
    await deliverAll(b, [...subscriptionEvents, ...scheduleEvents]);
    const first = await onlyLiveAccount(a);
    const second = await onlyLiveAccount(b);
    expect(await subscriptionAccounts(b)).toHaveLength(1);
    expect(comparableAccount(b, second)).toEqual(comparableAccount(a, first));
    // The subscription decides: its trial turned active; the schedule was canceled.
    expect(first.status).toBe('active');
  });

  it('an Account keeps every schedule id it has had (released from one, managed by another later)', async () => {
    const project = await createTestProject();
    const [first, firstActive] = scheduleLifecycleEvents(
      { id: 'sub_sched_1First', subscription: 'sub_1Moves' },
      'released',
      { start: T }
    );
    const later = subscriptionLifecycleEvents({ id: 'sub_1Moves', schedule: 'sub_sched_1Second' }, 'trial', {
      start: T + 100,
    });
    await deliverAll(project, [first, firstActive, ...later]);
    const account = await onlyLiveAccount(project);
    expect(ids(account)).toEqual([`${SUB}|sub_1Moves`, `${SCHED}|sub_sched_1First`, `${SCHED}|sub_sched_1Second`]);
  });
});

describe('two Accounts born from disjoint ids are merged into the older one', () => {
  it('identifiers, markers and Invoice links move; the other is entered-in-error without Stripe ids', async () => {
    const project = await createTestProject();
    // The schedule's creation names only the schedule (not started yet); a subscription event without
    // `schedule` names only the subscription: two Accounts, the schedule's first.
    const [scheduleCreated, scheduleStarted] = scheduleLifecycleEvents(
      { id: 'sub_sched_1Disjoint', subscription: 'sub_1Disjoint' },
      'canceled',
      { start: T }
    );
    const [subscriptionCreated, willEnd] = subscriptionLifecycleEvents({ id: 'sub_1Disjoint' }, 'trial', {
      start: T + 5,
    });
    await deliverAll(project, [scheduleCreated, subscriptionCreated]);
    const [older, newer] = await subscriptionAccounts(project);
    expect(await liveAccounts(project)).toHaveLength(2);
    // An Invoice of the subscription links to the subscription's (newer) Account.
    const invoiceEvents = invoiceLifecycleEvents({ id: 'in_1Disjoint', subscription: 'sub_1Disjoint' }, 'paid', {
      start: T + 6,
    });
    await deliverAll(project, invoiceEvents);
    const [invoice] = await project.server.all<Invoice>('Invoice');
    expect(invoice?.account).toEqual({ reference: `Account/${newer?.id}` });

    // The schedule starts: it names both ids, finds both Accounts, merges.
    const response = await project.deliver(scheduleStarted);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const account = await onlyLiveAccount(project);
    expect(account.id).toBe(older?.id);
    expect(ids(account)).toEqual([`${SUB}|sub_1Disjoint`, `${SCHED}|sub_sched_1Disjoint`]);
    expect(readAppliedEvent(account)?.id).toBe(scheduleStarted?.id);
    expect(readAppliedEvent(account, EXTENSION.subscriptionLastAppliedEvent)?.id).toBe(subscriptionCreated?.id);
    // The subscription decides the status (trialing → active) once known.
    expect(account.status).toBe('active');
    expect(account.subject).toEqual([{ reference: `Patient/${project.patient.id}` }]);
    const retired = (await subscriptionAccounts(project)).find((a) => a.id === newer?.id);
    expect(retired?.status).toBe('entered-in-error');
    expect(retired?.identifier ?? []).toEqual([]);
    expect((await project.server.all<Invoice>('Invoice'))[0]?.account).toEqual({ reference: `Account/${older?.id}` });
    expect(response.result.resources).toEqual(
      expect.arrayContaining([`Account/${older?.id}`, `Account/${newer?.id}`, `Invoice/${invoice?.id}`])
    );

    // Later events find one Account.
    await deliverAll(project, [willEnd]);
    expect((await onlyLiveAccount(project)).id).toBe(older?.id);
    expect(project.server.repo.rejected).toEqual([]);
  });
});
