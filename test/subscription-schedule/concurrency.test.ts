import type { Account, Communication, Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import type { RecordedRequest } from '../../lib/embedded/fhir-server';
import { createTestProject } from '../harness/project';
import {
  invoiceLifecycleEvents,
  scheduleLifecycleEvents,
  scheduleSubscriptionId,
} from '../../lib/stripe-events/events';
import { chronologicalSchedule, comparableAccount, deliverAll, onlyAccount, onlyInvoice } from './helpers';

const isAccountWrite = (r: RecordedRequest) => r.resourceType === 'Account' && r.method !== 'GET';
const isInvoiceWrite = (r: RecordedRequest) => r.resourceType === 'Invoice' && r.method !== 'GET';

async function archiveOf(project: Awaited<ReturnType<typeof createTestProject>>, eventId: string) {
  const archives = await project.server.all<Communication>('Communication');
  return archives.find((a) => a.identifier?.some((i) => i.system === STRIPE_SYSTEM.event && i.value === eventId));
}

describe('concurrent deliveries of one schedule (design: ordering, duplicates, concurrency)', () => {
  it('many concurrent deliveries produce exactly one Account, in the chronological final state', async () => {
    const events = scheduleLifecycleEvents({ id: 'sub_sched_1Burst' }, 'completed', { gaps: [0, 1, 0, 1] });
    // Every event three times, all at once: Stripe retries and parallel deliveries overlap.
    const burst = [...events, ...events, ...events];

    const project = await createTestProject();
    project.server.conflictOnOverlap = true;
    const responses = await Promise.all(burst.map((event) => project.deliver(event)));
    expect(responses.map((r) => r.status)).toEqual(burst.map(() => 200));
    // The harness really answered 409 to overlapping writes, and the bots retried through them.
    expect(project.server.overlapConflicts).toBeGreaterThan(0);

    const account = await onlyAccount(project);
    expect(await project.server.all<Communication>('Communication')).toHaveLength(events.length);

    const sequential = await createTestProject();
    await deliverAll(sequential, chronologicalSchedule(events));
    const expected = await onlyAccount(sequential);
    expect(comparableAccount(project, account)).toEqual(comparableAccount(sequential, expected));
  });

  it('concurrent first deliveries of different schedules each create their own Account once', async () => {
    const project = await createTestProject();
    project.server.conflictOnOverlap = true;
    const firsts = Array.from(
      { length: 6 },
      (_, i) => scheduleLifecycleEvents({ id: `sub_sched_1Parallel${i}` }, 'released')[0]
    );
    const responses = await Promise.all([...firsts, ...firsts].map((event) => project.deliver(event)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    // Besides the one billing Account of their customer, which each is `partOf`.
    const accounts = (await project.server.all<Account>('Account')).filter(
      (a) => a.identifier?.[0]?.system !== STRIPE_SYSTEM.customer
    );
    expect(accounts.map((a) => a.identifier?.[0]?.value).sort()).toEqual(
      Array.from({ length: 6 }, (_, i) => `sub_sched_1Parallel${i}`).sort()
    );
  });
});

describe('failures make the delivery fail, and a retry converges (design: ordering, duplicates, concurrency)', () => {
  it('a 500 on the Account write: non-2xx, archive stopped; after the fault a redelivery converges', async () => {
    const project = await createTestProject();
    const [created, started] = scheduleLifecycleEvents({ id: 'sub_sched_1Fault' }, 'canceled');
    project.server.injectFault({ kind: 500, match: isAccountWrite });

    const failed = await project.deliver(created);
    expect(failed.status).toBeGreaterThanOrEqual(400);
    const archive = await archiveOf(project, created?.id ?? '');
    expect(archive?.status).toBe('stopped');
    expect(archive?.statusReason?.text).toMatch(/stripe-subscription-schedule failed/);
    expect(await project.server.all<Account>('Account')).toEqual([]);

    project.server.clearFaults();
    for (const event of [created, started]) {
      const response = await project.deliver(event);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.result.outcome).toBe('processed');
    }
    expect((await archiveOf(project, created?.id ?? ''))?.status).toBe('completed');
    expect((await onlyAccount(project)).status).toBe('active');
  });

  it('a 500 on the Invoice link after the Account was written: a redelivery still links it', async () => {
    const project = await createTestProject();
    const schedule = { id: 'sub_sched_1LinkFault' };
    await deliverAll(
      project,
      invoiceLifecycleEvents({ id: 'in_1LinkFault', subscription: scheduleSubscriptionId(schedule) }, 'voided')
    );
    const [created, , started] = scheduleLifecycleEvents(schedule, 'completed');
    await deliverAll(project, [created]);

    project.server.injectFault({ kind: 500, match: isInvoiceWrite });
    const failed = await project.deliver(started);
    expect(failed.status).toBeGreaterThanOrEqual(400);
    expect((await archiveOf(project, started?.id ?? ''))?.status).toBe('stopped');
    // Half done: the Account shows the event, the Invoice is not linked yet.
    expect((await onlyAccount(project)).status).toBe('active');
    expect((await onlyInvoice(project)).account).toBeUndefined();

    project.server.clearFaults();
    const retried = await project.deliver(started);
    expect(retried.status).toBe(200);
    const account = await onlyAccount(project);
    const invoice = await onlyInvoice(project);
    expect(invoice.account).toEqual({ reference: `Account/${account.id}` });
    expect(invoice.status).toBe('cancelled');
  });

  it('409s and 412s on the Invoice link are retried inside the bot', async () => {
    const project = await createTestProject();
    const schedule = { id: 'sub_sched_1LinkConflict' };
    await deliverAll(project, [
      invoiceLifecycleEvents({ id: 'in_1LinkConflict', subscription: scheduleSubscriptionId(schedule) }, 'paid')[0],
    ]);
    const [created, , started] = scheduleLifecycleEvents(schedule, 'completed');
    await deliverAll(project, [created]);
    project.server.injectFault({ kind: 412, match: isInvoiceWrite, times: 1 });
    project.server.injectFault({ kind: 409, match: isInvoiceWrite, times: 1 });
    await deliverAll(project, [started]);
    const account = await onlyAccount(project);
    expect((await project.server.all<Invoice>('Invoice'))[0]?.account).toEqual({ reference: `Account/${account.id}` });
  });
});

describe('an Invoice written while the schedule bot runs', () => {
  it('is linked by the search the bot makes after first giving the Account a subscription id', async () => {
    const project = await createTestProject();
    const schedule = { id: 'sub_sched_1Race' };
    const [created, , started] = scheduleLifecycleEvents(schedule, 'completed');
    await deliverAll(project, [created]);
    // Between the bot's batched read and its Account write, the invoice bot (which found no Account
    // with this subscription yet) stores an Invoice of the subscription without `account`.
    let racing: Promise<unknown> | undefined;
    project.server.injectFault({
      kind: 500,
      match: (request) => {
        if (request.resourceType === 'Account' && request.method === 'PUT' && !racing) {
          racing = project.server.seed<Invoice>({
            resourceType: 'Invoice',
            meta: { tag: [{ system: STRIPE_SYSTEM.subscription, code: scheduleSubscriptionId(schedule) }] },
            identifier: [{ system: STRIPE_SYSTEM.invoice, value: 'in_1Race' }],
            status: 'issued',
          });
        }
        return false;
      },
    });
    await deliverAll(project, [started]);
    expect(racing).toBeDefined();
    const account = await onlyAccount(project);
    expect((await onlyInvoice(project)).account).toEqual({ reference: `Account/${account.id}` });
  });
});
