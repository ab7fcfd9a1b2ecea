import type { OperationOutcome } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { BOT_NAME } from '../../src/constants';
import { createTestProject } from '../harness/project';
import { buildInvoicePayment, buildPaymentIntent, buildRefund, wrapShapedEvent } from '../../lib/stripe-events/events';
import { paymentPair, recordsOf, refundPair, storeInvoice } from './helpers';
import { STRIPE_SYSTEM } from '../../src/constants';

const T = 1_760_000_000;

describe('payment bot failures, retries and concurrency (design: ordering, duplicates, concurrency)', () => {
  it('a failure between the two writes, then Stripe’s redelivery → exactly one complete pair', async () => {
    const project = await createTestProject();
    const event = wrapShapedEvent(
      'payment_intent.succeeded',
      buildPaymentIntent({ id: 'pi_1Fault', amount: 4200 }, 'succeeded', T),
      'openapi',
      { created: T }
    );
    const bot = `Bot/${project.server.botId(BOT_NAME.paymentIntent)}`;
    project.server.injectFault({
      kind: 500,
      match: (r) => r.caller === bot && r.method === 'POST' && r.resourceType === 'PaymentNotice',
    });
    const failed = await project.deliver(event);
    expect(failed.status).toBeGreaterThanOrEqual(400);
    // Half-written: the reconciliation exists, the notice does not (and nothing points at a missing one).
    const half = await recordsOf(project.server, STRIPE_SYSTEM.paymentIntent, 'pi_1Fault');
    expect(half.reconciliations).toHaveLength(1);
    expect(half.notices).toHaveLength(0);

    project.server.clearFaults();
    const retried = await project.deliver(event);
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.result.outcome).toBe('processed');
    const { reconciliation, notice } = await paymentPair(project.server, 'pi_1Fault');
    expect(reconciliation.id).toBe(half.reconciliations[0]?.id);
    expect(notice.amount).toEqual({ value: 42, currency: 'USD' });
    expect(retried.result.resources).toEqual([
      `PaymentReconciliation/${reconciliation.id}`,
      `PaymentNotice/${notice.id}`,
    ]);
  });

  it('a half-written pair is completed by a later, different event of the same payment', async () => {
    const project = await createTestProject();
    const variant = { id: 'pi_1FaultLater', amount: 1500, invoice: 'in_1FaultLater' };
    const bot = `Bot/${project.server.botId(BOT_NAME.paymentIntent)}`;
    project.server.injectFault({
      kind: 500,
      match: (r) => r.caller === bot && r.method === 'POST' && r.resourceType === 'PaymentNotice',
    });
    const succeeded = wrapShapedEvent(
      'payment_intent.succeeded',
      buildPaymentIntent(variant, 'succeeded', T),
      'openapi',
      {
        created: T + 1,
      }
    );
    expect((await project.deliver(succeeded)).status).toBeGreaterThanOrEqual(400);
    project.server.clearFaults();
    // An older event (it does not supersede the stored reconciliation) still completes the pair.
    const paid = wrapShapedEvent('invoice_payment.paid', buildInvoicePayment(variant, T), 'openapi', { created: T });
    expect((await project.deliver(paid)).status).toBe(200);
    const { reconciliation, notice } = await paymentPair(project.server, variant.id);
    expect(notice.extension).toEqual(reconciliation.extension);
    expect(reconciliation.disposition).toMatch(/succeeded/);
    expect(reconciliation.detail?.[0]?.request?.identifier?.value).toBe('in_1FaultLater');
  });

  it('many parallel deliveries with conflicting writes (409s) → one pair per object', async () => {
    const project = await createTestProject();
    await storeInvoice(project, 'in_1Burst');
    project.server.conflictOnOverlap = true;
    const variant = { id: 'pi_1Burst', amount: 9900, invoice: 'in_1Burst' };
    const refund = { id: 're_1Burst', amount: 900, paymentIntent: variant.id, charge: 'ch_1Burst', created: T + 5 };
    const events = [
      wrapShapedEvent('payment_intent.succeeded', buildPaymentIntent(variant, 'succeeded', T), 'openapi', {
        created: T,
      }),
      wrapShapedEvent('invoice_payment.paid', buildInvoicePayment(variant, T), 'openapi', { created: T }),
      wrapShapedEvent('refund.created', buildRefund(refund, 'pending'), 'openapi', { created: T + 5 }),
      wrapShapedEvent('refund.updated', buildRefund(refund, 'succeeded'), 'openapi', { created: T + 6 }),
    ];
    // Each event four times at once (Stripe's retries overlapping), signed deliveries and operator replays mixed.
    const burst = events.flatMap((event) => [
      project.deliver(event),
      project.deliver(event),
      project.replay(event),
      project.replay(event),
    ]);
    const responses = await Promise.all(burst);
    // The bots retry the injected 409s inside their bound: no delivery fails.
    expect(responses.map((r) => r.status)).toEqual(burst.map(() => 200));
    expect(project.server.overlapConflicts).toBeGreaterThan(0);
    expect(project.server.overlapConflicts).toBeGreaterThan(0);
    const payment = await paymentPair(project.server, variant.id);
    expect(payment.reconciliation).toMatchObject({ status: 'active', paymentAmount: { value: 99, currency: 'USD' } });
    expect(payment.reconciliation.disposition).toMatch(/succeeded/);
    expect(payment.notice.request?.reference).toMatch(/^Invoice\//);
    const refunded = await refundPair(project.server, refund.id);
    expect(refunded.reconciliation.status).toBe('active');
    expect(await project.server.all('PaymentReconciliation')).toHaveLength(2);
    expect(await project.server.all('PaymentNotice')).toHaveLength(2);
    expect(project.server.repo.rejected).toEqual([]);
  });

  it('without PAYEE_ORGANIZATION the bot fails, naming the setting, and writes nothing', async () => {
    const project = await createTestProject({ withPayee: false });
    const event = wrapShapedEvent(
      'payment_intent.succeeded',
      buildPaymentIntent({ id: 'pi_1NoPayee' }, 'succeeded', T),
      'openapi'
    );
    const response = await project.deliver(event);
    expect(response.status).toBe(400);
    const text = JSON.stringify((response.body as OperationOutcome).issue);
    expect(text).toContain('PAYEE_ORGANIZATION');
    expect(text).toMatch(/setup creates/);
    expect(await project.server.all('PaymentReconciliation')).toEqual([]);
    expect(await project.server.all('PaymentNotice')).toEqual([]);
    // The payment bot made no FHIR request at all.
    expect(project.server.requestsBy(`Bot/${project.server.botId(BOT_NAME.paymentIntent)}`)).toEqual([]);
  });

  it('a PAYEE_ORGANIZATION that names a missing Organization fails before writing', async () => {
    const project = await createTestProject();
    project.server.setSecret('PAYEE_ORGANIZATION', 'Organization/does-not-exist');
    const response = await project.deliver(
      wrapShapedEvent(
        'payment_intent.succeeded',
        buildPaymentIntent({ id: 'pi_1GonePayee' }, 'succeeded', T),
        'openapi'
      )
    );
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).toContain('Organization/does-not-exist');
    expect(await project.server.all('PaymentReconciliation')).toEqual([]);
  });
});
