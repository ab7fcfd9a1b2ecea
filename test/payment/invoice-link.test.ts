import { describe, expect, it } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import { createTestProject } from '../harness/project';
import { buildInvoicePayment, buildPaymentIntent, wrapShapedEvent } from '../../lib/stripe-events/events';
import { comparableRecords, paymentPair, storeInvoice } from './helpers';

const T = 1_760_000_000;
const ACACIA = 'openapi-2025-02-24.acacia' as const;

function logical(invoiceId: string): object {
  return { type: 'Invoice', identifier: { system: STRIPE_SYSTEM.invoice, value: invoiceId } };
}

function literal(id: string, invoiceId: string): object {
  return { reference: `Invoice/${id}`, ...logical(invoiceId) };
}

describe('the Invoice link of a payment (monotonic: kept once known, logical upgraded to literal)', () => {
  it('pre-2025 payment_intent.invoice, Invoice stored before → literal reference', async () => {
    const project = await createTestProject();
    const invoice = await storeInvoice(project, 'in_1LinkBefore');
    const variant = { id: 'pi_1LinkBefore', shape: ACACIA, invoice: 'in_1LinkBefore' };
    await project.deliver(
      wrapShapedEvent('payment_intent.succeeded', buildPaymentIntent(variant, 'succeeded', T), ACACIA)
    );
    const { reconciliation, notice } = await paymentPair(project.server, variant.id);
    expect(reconciliation.detail?.[0]?.request).toEqual(literal(invoice.id, 'in_1LinkBefore'));
    expect(notice.request).toEqual(literal(invoice.id, 'in_1LinkBefore'));
  });

  it('pre-2025 payment_intent.invoice, Invoice stored after → logical, upgraded by a later event of the payment', async () => {
    const project = await createTestProject();
    const variant = { id: 'pi_1LinkAfter', shape: ACACIA, invoice: 'in_1LinkAfter' };
    const succeeded = wrapShapedEvent('payment_intent.succeeded', buildPaymentIntent(variant, 'succeeded', T), ACACIA);
    await project.deliver(succeeded);
    expect((await paymentPair(project.server, variant.id)).notice.request).toEqual(logical('in_1LinkAfter'));

    const invoice = await storeInvoice(project, 'in_1LinkAfter');
    // A replay of the payment's event (its archive is completed, so only an operator re-runs it).
    const replayed = await project.replay(succeeded);
    expect(replayed.status).toBe(200);
    expect(replayed.result.outcome).toBe('processed');
    const { reconciliation, notice } = await paymentPair(project.server, variant.id);
    expect(reconciliation.detail?.[0]?.request).toEqual(literal(invoice.id, 'in_1LinkAfter'));
    expect(notice.request).toEqual(literal(invoice.id, 'in_1LinkAfter'));
  });

  it('post-2025: invoice_payment.paid first (creates the pair), Invoice stored, payment_intent.succeeded last', async () => {
    const project = await createTestProject();
    const variant = { id: 'pi_1LinkPaidFirst', amount: 3000, invoice: 'in_1LinkPaidFirst' };
    const paid = await project.deliver(
      wrapShapedEvent('invoice_payment.paid', buildInvoicePayment(variant, T), 'openapi', { created: T })
    );
    expect(paid.result.outcome).toBe('processed');
    const first = await paymentPair(project.server, variant.id);
    expect(first.reconciliation.detail?.[0]?.request).toEqual(logical('in_1LinkPaidFirst'));
    expect(first.reconciliation.status).toBe('active');

    const invoice = await storeInvoice(project, 'in_1LinkPaidFirst');
    // The current API's intent has no `invoice` field: the link it does not know is kept, and upgraded.
    await project.deliver(
      wrapShapedEvent('payment_intent.succeeded', buildPaymentIntent(variant, 'succeeded', T), 'openapi', {
        created: T,
      })
    );
    const { reconciliation, notice } = await paymentPair(project.server, variant.id);
    expect(reconciliation.disposition).toMatch(/succeeded/);
    expect(reconciliation.detail?.[0]?.request).toEqual(literal(invoice.id, 'in_1LinkPaidFirst'));
    expect(notice.request).toEqual(literal(invoice.id, 'in_1LinkPaidFirst'));
  });

  it('post-2025: payment_intent.succeeded first (no link), invoice_payment.paid last adds it; same state as the other order', async () => {
    const variant = { id: 'pi_1LinkPaidLast', amount: 3000, invoice: 'in_1LinkPaidLast' };
    const succeeded = wrapShapedEvent(
      'payment_intent.succeeded',
      buildPaymentIntent(variant, 'succeeded', T),
      'openapi',
      { created: T + 1 }
    );
    const paid = wrapShapedEvent('invoice_payment.paid', buildInvoicePayment(variant, T), 'openapi', { created: T });

    const project = await createTestProject();
    const invoice = await storeInvoice(project, 'in_1LinkPaidLast');
    await project.deliver(succeeded);
    // It names no invoice: the customer's billing Account stands in until the Invoice is known.
    expect((await paymentPair(project.server, variant.id)).notice.request).toMatchObject({ type: 'Account' });
    const linked = await project.deliver(paid);
    expect(linked.result.outcome).toBe('processed');
    expect(linked.result.reason).toBeUndefined();
    const { reconciliation, notice } = await paymentPair(project.server, variant.id);
    // The intent's own event still decides everything else.
    expect(reconciliation.disposition).toMatch(/succeeded/);
    expect(reconciliation.detail?.[0]?.request).toEqual(literal(invoice.id, 'in_1LinkPaidLast'));
    expect(notice.request).toEqual(literal(invoice.id, 'in_1LinkPaidLast'));

    const other = await createTestProject();
    await storeInvoice(other, 'in_1LinkPaidLast');
    await other.deliver(paid);
    await other.deliver(succeeded);
    expect(await comparableRecords(other.server)).toEqual(await comparableRecords(project.server));
  });
});
