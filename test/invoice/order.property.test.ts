import type { Invoice } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StripeEvent, StripeInvoice } from '../../src/stripe/types';
import { chronological } from '../harness/invoice-order';
import { stableNames } from '../harness/names';
import { comparable } from '../harness/normalize';
import { createTestProject, type TestProject } from '../harness/project';
import { INVOICE_LIFECYCLES, invoiceLifecycleEvents, type InvoiceLifecycle } from '../../lib/stripe-events/events';

async function finalInvoice(project: TestProject, events: readonly unknown[]): Promise<unknown> {
  for (const event of events) {
    const { status } = await project.deliver(event);
    expect(status).toBe(200);
  }
  const invoices = await project.server.all<Invoice>('Invoice');
  expect(invoices).toHaveLength(1);
  return comparable(invoices[0], await stableNames(project));
}

const lifecycleArb = fc.constantFrom(...(Object.keys(INVOICE_LIFECYCLES) as InvoiceLifecycle[]));

/** A lifecycle with gaps of 0–2 s (0 = same second) and random event ids, and a delivery: any order, some twice. */
const scenarioArb = lifecycleArb.chain((lifecycle) => {
  const steps = INVOICE_LIFECYCLES[lifecycle].length;
  return fc.record({
    lifecycle: fc.constant(lifecycle),
    gaps: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: steps - 1, maxLength: steps - 1 }),
    ids: fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9]{14}$/), { minLength: steps, maxLength: steps }),
    duplicates: fc.array(fc.nat({ max: steps - 1 }), { maxLength: 4 }),
    order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: steps + 4, maxLength: steps + 4 }),
  });
});

describe('invoice ordering and duplicates (design: ordering, duplicates, concurrency)', () => {
  it('any permutation and duplication gives the Invoice of chronological delivery', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async ({ lifecycle, gaps, ids, duplicates, order }) => {
        const events = invoiceLifecycleEvents({ id: 'in_1Property' }, lifecycle, {
          gaps,
          ids: ids.map((id) => `evt_${id}`),
        });
        const deliveries = [...events, ...duplicates.map((i) => events[i] as StripeEvent<StripeInvoice>)];
        const shuffled = deliveries
          .map((event, i) => ({ event, rank: order[i] ?? 0 }))
          .sort((a, b) => a.rank - b.rank)
          .map((d) => d.event);
        const expected = await finalInvoice(await createTestProject(), chronological(events));
        const actual = await finalInvoice(await createTestProject(), shuffled);
        expect(actual).toEqual(expected);
      }),
      { numRuns: 60 }
    );
  });

  it('within one second, the later lifecycle stage wins whatever the arrival order', async () => {
    const [created, finalized, paid] = invoiceLifecycleEvents({ id: 'in_1SameSecond' }, 'voided', { gaps: [0, 0] });
    const project = await createTestProject();
    for (const event of [paid, finalized, created]) {
      await project.deliver(event);
    }
    const [invoice] = await project.server.all<Invoice>('Invoice');
    expect(invoice?.status).toBe('cancelled');
  });

  it('a terminal state is never left, even for a later non-terminal event', async () => {
    const events = invoiceLifecycleEvents({ id: 'in_1Terminal' }, 'paid');
    const project = await createTestProject();
    const paid = events[4] as StripeEvent<StripeInvoice>;
    // An `invoice.updated` that claims `open` one minute after payment (out-of-date snapshot).
    const lateOpen = { ...(events[3] as StripeEvent<StripeInvoice>), id: 'evt_1LateOpen', created: paid.created + 60 };
    await project.deliver(paid);
    const { result } = await project.deliver(lateOpen);
    expect(result.reason).toMatch(/already shows this or a later event/);
    const [invoice] = await project.server.all<Invoice>('Invoice');
    expect(invoice?.status).toBe('balanced');
  });
});
