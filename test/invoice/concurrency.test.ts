import type { Communication, Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { StripeEvent, StripeInvoice } from '../../src/stripe/types';
import { chronological } from '../harness/invoice-order';
import { comparable } from '../harness/normalize';
import { stableNames } from '../harness/names';
import { createTestProject } from '../harness/project';
import { invoiceLifecycleEvents } from '../../lib/stripe-events/events';

describe('concurrent deliveries (design: ordering, duplicates, concurrency)', () => {
  it('many concurrent deliveries of one new invoice’s events produce exactly one Invoice', async () => {
    const events = invoiceLifecycleEvents({ id: 'in_1Burst' }, 'paid', { gaps: [0, 1, 0, 1, 0] });
    // Every event three times, all at once: Stripe retries and parallel deliveries overlap.
    const burst = [...events, ...events, ...events] as StripeEvent<StripeInvoice>[];

    const project = await createTestProject();
    project.server.conflictOnOverlap = true;
    const responses = await Promise.all(burst.map((event) => project.deliver(event)));
    expect(responses.map((r) => r.status)).toEqual(burst.map(() => 200));
    // The harness really answered 409 to overlapping writes, and the bots retried through them.
    expect(project.server.overlapConflicts).toBeGreaterThan(0);

    const invoices = await project.server.all<Invoice>('Invoice');
    expect(invoices).toHaveLength(1);
    const archives = await project.server.all<Communication>('Communication');
    expect(archives).toHaveLength(events.length);

    const sequential = await createTestProject();
    for (const event of chronological(events)) {
      await sequential.deliver(event);
    }
    const [expected] = await sequential.server.all<Invoice>('Invoice');
    expect(comparable(invoices[0], await stableNames(project))).toEqual(
      comparable(expected, await stableNames(sequential))
    );
  });

  it('concurrent first deliveries of different invoices each create their own Invoice once', async () => {
    const project = await createTestProject();
    project.server.conflictOnOverlap = true;
    const firsts = Array.from({ length: 8 }, (_, i) => invoiceLifecycleEvents({ id: `in_1Parallel${i}` }, 'paid')[0]);
    const responses = await Promise.all([...firsts, ...firsts].map((event) => project.deliver(event)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    const invoices = await project.server.all<Invoice>('Invoice');
    expect(invoices.map((i) => i.identifier?.[0]?.value).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `in_1Parallel${i}`).sort()
    );
  });
});
