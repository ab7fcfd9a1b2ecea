import type { Invoice } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import type { FixtureShape } from '../../lib/stripe-events/fixtures';
import { createTestProject, type TestProject } from '../harness/project';
import {
  invoiceLifecycleEvents,
  scheduleLifecycleEvents,
  scheduleSubscriptionId,
  type ScheduleLifecycle,
} from '../../lib/stripe-events/events';
import { deliverAll, onlyAccount, onlyInvoice } from './helpers';

const SHAPES: readonly FixtureShape[] = ['openapi', 'openapi-2025-02-24.acacia'];
const SCHEDULE = { id: 'sub_sched_1Linked' };
const SUBSCRIPTION = scheduleSubscriptionId(SCHEDULE);

function invoiceEvents(shape: FixtureShape, id = 'in_1Linked') {
  // The invoice's subscription is the one the schedule starts (buildInvoice puts it where each shape has it).
  return invoiceLifecycleEvents({ id, shape, subscription: SUBSCRIPTION }, 'paid', { start: 1_760_000_100 });
}

async function expectLinked(project: TestProject): Promise<Invoice> {
  const account = await onlyAccount(project);
  const invoice = await onlyInvoice(project);
  expect(invoice.account).toEqual({ reference: `Account/${account.id}` });
  expect(invoice.meta?.tag).toContainEqual({ system: STRIPE_SYSTEM.subscription, code: SUBSCRIPTION });
  expect(account.identifier).toContainEqual({ system: STRIPE_SYSTEM.subscription, value: SUBSCRIPTION });
  expect(project.server.repo.rejected).toEqual([]);
  return invoice;
}

describe.each(SHAPES)('Invoice ↔ Account link (%s invoices)', (shape) => {
  it('invoice first: the schedule bot links the Invoice once the Account learns the subscription', async () => {
    const project = await createTestProject();
    await deliverAll(project, invoiceEvents(shape));
    expect((await onlyInvoice(project)).account).toBeUndefined();

    const [created, , started, ...rest] = scheduleLifecycleEvents(SCHEDULE, 'completed');
    await deliverAll(project, [created]);
    // Not started: the schedule names no subscription yet, so nothing to link.
    expect((await onlyInvoice(project)).account).toBeUndefined();

    const response = await project.deliver(started);
    expect(response.status).toBe(200);
    const invoice = await expectLinked(project);
    expect(response.result.resources).toContain(`Invoice/${invoice.id}`);
    // The link did not touch what the invoice bot wrote.
    expect(invoice.status).toBe('balanced');

    await deliverAll(project, rest);
    await expectLinked(project);
  });

  it('schedule first: the invoice bot finds the Account by subscription id', async () => {
    const project = await createTestProject();
    await deliverAll(project, scheduleLifecycleEvents(SCHEDULE, 'released'));
    await deliverAll(project, invoiceEvents(shape));
    const invoice = await expectLinked(project);
    expect(invoice.status).toBe('balanced');
  });

  it('invoice between the schedule’s creation and its start', async () => {
    const project = await createTestProject();
    const [created, started, canceled] = scheduleLifecycleEvents(SCHEDULE, 'canceled');
    await deliverAll(project, [created]);
    await deliverAll(project, invoiceEvents(shape).slice(0, 3));
    await deliverAll(project, [started]);
    await expectLinked(project);
    await deliverAll(project, [...invoiceEvents(shape).slice(3), canceled]);
    const invoice = await expectLinked(project);
    expect(invoice.status).toBe('balanced');
  });

  it('links every waiting Invoice of the subscription, and only those', async () => {
    const project = await createTestProject();
    const ids = ['in_1LinkA', 'in_1LinkB', 'in_1LinkC'];
    for (const id of ids) {
      await deliverAll(project, invoiceEvents(shape, id).slice(0, 2));
    }
    // An invoice of another subscription stays unlinked.
    await deliverAll(project, [
      invoiceLifecycleEvents({ id: 'in_1Other', shape, subscription: 'sub_1Other' }, 'paid')[0],
    ]);
    await deliverAll(project, scheduleLifecycleEvents(SCHEDULE, 'aborted'));
    const account = await onlyAccount(project);
    const invoices = await project.server.all<Invoice>('Invoice');
    const accountOf = Object.fromEntries(invoices.map((i) => [i.identifier?.[0]?.value, i.account?.reference]));
    expect(accountOf).toEqual({
      in_1LinkA: `Account/${account.id}`,
      in_1LinkB: `Account/${account.id}`,
      in_1LinkC: `Account/${account.id}`,
      in_1Other: undefined,
    });
  });
});

describe('Invoice ↔ Account link, any interleaving (design: fhir mapping)', () => {
  const lifecycles: ScheduleLifecycle[] = ['completed', 'released', 'canceled', 'aborted'];

  it('whichever event arrives first, the Invoice ends linked', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SHAPES),
        fc.constantFrom(...lifecycles),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 11, maxLength: 11 }),
        async (shape, lifecycle, order) => {
          const events = [...invoiceEvents(shape), ...scheduleLifecycleEvents(SCHEDULE, lifecycle)];
          const shuffled = events
            .map((event, i) => ({ event, rank: order[i] ?? 0 }))
            .sort((a, b) => a.rank - b.rank)
            .map((d) => d.event);
          const project = await createTestProject();
          await deliverAll(project, shuffled);
          const invoice = await expectLinked(project);
          expect(invoice.status).toBe('balanced');
        }
      ),
      { numRuns: 40 }
    );
  });
});
