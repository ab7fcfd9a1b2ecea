import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lifecycleOf, planKind, planPaymentEvent } from '../../src/fhir/payment';
import type { StripeEvent, StripeObject } from '../../src/stripe/types';
import type { FixtureShape } from '../../lib/stripe-events/fixtures';
import { createTestProject, type TestProject } from '../harness/project';
import {
  buildCharge,
  buildInvoicePayment,
  buildPaymentIntent,
  buildRefund,
  wrapShapedEvent,
} from '../../lib/stripe-events/events';
import { comparableRecords, paymentPair, refundPair, storeInvoice } from './helpers';

const T = 1_760_000_000;
const INTENT = 'pi_1Order';
const INVOICE = 'in_1Order';
const CHARGE = 'ch_1Order';

/**
 * One payment's events, as Stripe sends them: created, processing, succeeded (and, on the current
 * API, invoice_payment.paid in the same second), a refund that goes pending → succeeded, a second
 * one that succeeds at once and is listed by a `charge.refunded` of the old API in the same second,
 * then fails. Event ids are fixed and deliberately not in time order.
 */
function paymentEvents(shape: FixtureShape): StripeEvent<StripeObject>[] {
  const variant = { id: INTENT, shape, amount: 10_000, currency: 'eur', invoice: INVOICE, chargeId: CHARGE };
  const intent = (status: Parameters<typeof buildPaymentIntent>[1], at: number) =>
    buildPaymentIntent(variant, status, at, { created: T });
  const refund1 = {
    id: 're_1OrderA',
    amount: 3_000,
    currency: 'eur',
    paymentIntent: INTENT,
    charge: CHARGE,
    created: T + 10,
  };
  const refund2 = {
    id: 're_1OrderB',
    amount: 2_000,
    currency: 'eur',
    paymentIntent: INTENT,
    charge: CHARGE,
    created: T + 20,
  };
  const ev = (id: string, type: string, object: { object: string }, created: number) =>
    wrapShapedEvent(type, object, shape, { id, created }) as StripeEvent<StripeObject>;
  return [
    ev('evt_1Q9created', 'payment_intent.created', intent('requires_payment_method', T), T),
    ev('evt_1A3processing', 'payment_intent.processing', intent('processing', T + 1), T + 1),
    ...(shape === 'openapi'
      ? [ev('evt_1Z0inpay', 'invoice_payment.paid', buildInvoicePayment(variant, T + 2), T + 2)]
      : []),
    ev('evt_1M7succeeded', 'payment_intent.succeeded', intent('succeeded', T + 2), T + 2),
    ev('evt_1C4refA', 'refund.created', buildRefund(refund1, 'pending'), T + 10),
    ev('evt_1X2refAok', 'refund.updated', buildRefund(refund1, 'succeeded'), T + 12),
    ev('evt_1B8refB', 'refund.created', buildRefund(refund2, 'succeeded'), T + 20),
    ev(
      'evt_1K5charge',
      'charge.refunded',
      buildCharge(variant, T + 2, [buildRefund(refund1, 'succeeded'), buildRefund(refund2, 'succeeded')]),
      T + 20
    ),
    ev('evt_1D6refBfail', 'charge.refund.updated', buildRefund(refund2, 'failed'), T + 30),
  ];
}

/**
 * "Chronological" is the order key of docs/design.md, "Ordering, duplicates, concurrency". In this scenario each object's terminal
 * events are also its latest, so sorting by (created, lifecycle rank, event id) is that key.
 */
function chronological(events: readonly StripeEvent<StripeObject>[]): StripeEvent<StripeObject>[] {
  const rank = (event: StripeEvent<StripeObject>): number => {
    const decision = planPaymentEvent(event);
    const plan = 'plans' in decision ? decision.plans[0] : undefined;
    if (!plan) {
      return -1;
    }
    const stage = plan.action === 'upsert' ? plan.facts.applied.stage : plan.applied.stage;
    return lifecycleOf(planKind(plan)).rank(stage);
  };
  return [...events].sort(
    (a, b) => a.created - b.created || rank(a) - rank(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

async function projectWith(invoiceStored: boolean): Promise<TestProject> {
  const project = await createTestProject();
  if (invoiceStored) {
    await storeInvoice(project, INVOICE);
  }
  return project;
}

type Delivery = { readonly event: StripeEvent<StripeObject>; readonly replay: boolean };

async function deliverAll(project: TestProject, deliveries: readonly Delivery[]): Promise<Record<string, unknown>> {
  for (const { event, replay } of deliveries) {
    const response = replay ? await project.replay(event) : await project.deliver(event);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
  }
  expect(project.server.repo.rejected).toEqual([]);
  return comparableRecords(project.server);
}

const expectedCache = new Map<string, Promise<Record<string, unknown>>>();

function expectedState(shape: FixtureShape, invoiceStored: boolean): Promise<Record<string, unknown>> {
  const key = `${shape}/${invoiceStored}`;
  let expected = expectedCache.get(key);
  if (!expected) {
    expected = projectWith(invoiceStored).then((project) =>
      deliverAll(
        project,
        chronological(paymentEvents(shape)).map((event) => ({ event, replay: false }))
      )
    );
    expectedCache.set(key, expected);
  }
  return expected;
}

describe('payment ordering, duplicates (design: ordering, duplicates, concurrency)', () => {
  for (const shape of ['openapi', 'openapi-2025-02-24.acacia'] as const) {
    it(`chronological delivery (${shape}) gives the expected pairs`, async () => {
      const project = await projectWith(true);
      await deliverAll(
        project,
        chronological(paymentEvents(shape)).map((event) => ({ event, replay: false }))
      );
      const payment = await paymentPair(project.server, INTENT);
      expect(payment.reconciliation).toMatchObject({
        status: 'active',
        paymentAmount: { value: 100, currency: 'EUR' },
      });
      expect(payment.reconciliation.detail?.[0]?.request?.reference).toMatch(/^Invoice\//);
      const a = await refundPair(project.server, 're_1OrderA');
      expect(a.reconciliation).toMatchObject({ status: 'active', paymentAmount: { value: -30, currency: 'EUR' } });
      const b = await refundPair(project.server, 're_1OrderB');
      expect(b.reconciliation).toMatchObject({ status: 'cancelled', paymentAmount: { value: -20, currency: 'EUR' } });
      expect(b.notice.status).toBe('cancelled');
    });

    it(`any permutation and duplication converges to the chronological state (${shape})`, async () => {
      const events = paymentEvents(shape);
      const n = events.length;
      const scenario = fc.record({
        invoiceStored: fc.boolean(),
        order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: n + 4, maxLength: n + 4 }),
        duplicates: fc.array(fc.record({ index: fc.nat({ max: n - 1 }), replay: fc.boolean() }), { maxLength: 4 }),
      });
      await fc.assert(
        fc.asyncProperty(scenario, async ({ invoiceStored, order, duplicates }) => {
          const deliveries: Delivery[] = [
            ...events.map((event) => ({ event, replay: false })),
            ...duplicates.map((d) => ({ event: events[d.index] as StripeEvent<StripeObject>, replay: d.replay })),
          ];
          const shuffled = deliveries
            .map((delivery, i) => ({ delivery, rank: order[i] ?? 0 }))
            .sort((a, b) => a.rank - b.rank)
            .map((d) => d.delivery);
          const actual = await deliverAll(await projectWith(invoiceStored), shuffled);
          expect(actual).toEqual(await expectedState(shape, invoiceStored));
        }),
        { numRuns: 30 }
      );
    });
  }

  it('a refund that failed stays cancelled when a late "succeeded" snapshot arrives', async () => {
    const project = await createTestProject();
    const refund = { id: 're_1Late', amount: 500, paymentIntent: INTENT, charge: CHARGE, created: T };
    await project.deliver(
      wrapShapedEvent('refund.failed', buildRefund(refund, 'failed'), 'openapi', { created: T + 5 })
    );
    const late = await project.deliver(
      wrapShapedEvent('refund.updated', buildRefund(refund, 'succeeded'), 'openapi', { created: T + 60 })
    );
    expect(late.result.reason).toMatch(/already show this or a later event/);
    const { reconciliation } = await refundPair(project.server, 're_1Late');
    expect(reconciliation.status).toBe('cancelled');
  });
});
