import type { Account, Communication, PaymentNotice, PaymentReconciliation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { BOT_NAME, EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import { PAYMENT_STATUS_SYSTEM, PAYMENT_TYPE_SYSTEM } from '../../src/fhir/payment';
import type { StripeInvoicePayment, StripePaymentIntent } from '../../src/stripe/types';
import { createTestProject } from '../harness/project';
import {
  buildCharge,
  buildInvoicePayment,
  buildPaymentIntent,
  buildRefund,
  wrapShapedEvent,
} from '../../lib/stripe-events/events';
import { loadStripeFixture, type FixtureShape } from '../../lib/stripe-events/fixtures';
import { paymentPair, refundPair, storeInvoice } from './helpers';

const T = 1_760_000_000;
const SHAPES: FixtureShape[] = ['openapi', 'openapi-2025-02-24.acacia'];

/*
 * Stripe's fixtures (test/fixtures/stripe) are shapes full of placeholders, so every object here is
 * a valid variant built by the builders of lib/stripe-events/events.ts, which list what they
 * change (ids, amounts, statuses, timestamps; placeholder references to real-looking ids or null).
 * The raw `invoice_payment` fixture is checked separately: as Stripe wrote it, it is ignored.
 */
describe('payment fixtures of both API shapes, delivered through the router', () => {
  for (const shape of SHAPES) {
    it(`payment_intent.succeeded (${shape}) → one valid PaymentReconciliation + PaymentNotice`, async () => {
      const project = await createTestProject();
      const invoice = await storeInvoice(project, 'in_1FixturePaid');
      const variant = { id: 'pi_1FixtureOk', shape, amount: 1099, invoice: 'in_1FixturePaid' };
      const event = wrapShapedEvent('payment_intent.succeeded', buildPaymentIntent(variant, 'succeeded', T), shape, {
        created: T + 5,
      });
      const response = await project.deliver(event);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.result).toMatchObject({ outcome: 'processed', target: BOT_NAME.paymentIntent });

      const { reconciliation, notice } = await paymentPair(project.server, 'pi_1FixtureOk');
      expect(response.result.resources).toEqual([
        `PaymentReconciliation/${reconciliation.id}`,
        `PaymentNotice/${notice.id}`,
      ]);
      const payee = { reference: `Organization/${project.payee.id}` };
      const amount = { value: 10.99, currency: 'USD' as const };
      // The pre-2025 shape names the invoice on the intent; the current one does not (invoice_payment.paid
      // does): until then the payment points at its customer's billing Account.
      const billing = (await project.server.all<Account>('Account')).find((a) =>
        a.identifier?.some((i) => i.system === STRIPE_SYSTEM.customer)
      );
      const request =
        shape === 'openapi'
          ? { reference: `Account/${billing?.id}`, type: 'Account' }
          : {
              reference: `Invoice/${invoice.id}`,
              type: 'Invoice',
              identifier: { system: STRIPE_SYSTEM.invoice, value: 'in_1FixturePaid' },
            };
      expect(reconciliation).toMatchObject<Partial<PaymentReconciliation>>({
        identifier: [{ system: STRIPE_SYSTEM.paymentIntent, value: 'pi_1FixtureOk' }],
        status: 'active',
        outcome: 'complete',
        created: '2025-10-09T08:53:25Z',
        paymentDate: '2025-10-09',
        paymentAmount: amount,
        requestor: payee,
      });
      expect(reconciliation.request).toBeUndefined();
      expect(reconciliation.detail).toEqual([
        {
          identifier: { system: STRIPE_SYSTEM.paymentIntent, value: 'pi_1FixtureOk' },
          type: { coding: [{ system: PAYMENT_TYPE_SYSTEM, code: 'payment' }] },
          ...(request && { request }),
          date: '2025-10-09',
          payee,
          amount,
        },
      ]);
      expect(reconciliation.extension?.find((e) => e.url === EXTENSION.lastAppliedEvent)?.extension).toContainEqual({
        url: 'id',
        valueString: event.id,
      });
      expect(notice).toMatchObject<Partial<PaymentNotice>>({
        identifier: [{ system: STRIPE_SYSTEM.paymentIntent, value: 'pi_1FixtureOk' }],
        status: 'active',
        created: reconciliation.created,
        recipient: payee,
        payee,
        amount,
        paymentStatus: { coding: [{ system: PAYMENT_STATUS_SYSTEM, code: 'paid' }] },
      });
      expect(notice.request).toEqual(request);
      expect(project.server.repo.rejected).toEqual([]);
    });

    it(`charge.refunded (${shape}) with a refund list → one pair per refund; without one → ignored`, async () => {
      const project = await createTestProject();
      const variant = { id: 'pi_1FixtureRef', shape, amount: 1000 };
      const refunds = [
        buildRefund(
          { id: 're_1FixtureA', amount: 300, paymentIntent: variant.id, charge: 'ch_1FixtureRef', created: T + 10 },
          'succeeded'
        ),
        buildRefund(
          { id: 're_1FixtureB', amount: 200, paymentIntent: null, charge: 'ch_1FixtureRef', created: T + 11 },
          'pending'
        ),
      ];
      const withList = wrapShapedEvent('charge.refunded', buildCharge(variant, T, refunds), shape, { created: T + 12 });
      const response = await project.deliver(withList);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.result.outcome).toBe('processed');
      expect(response.result.resources).toHaveLength(4);

      const a = await refundPair(project.server, 're_1FixtureA');
      expect(a.reconciliation).toMatchObject({
        status: 'active',
        outcome: 'complete',
        paymentAmount: { value: -3, currency: 'USD' },
        paymentIssuer: { reference: `Organization/${project.payee.id}` },
      });
      expect(a.reconciliation.detail?.[0]).toMatchObject({
        type: { coding: [{ system: PAYMENT_TYPE_SYSTEM, code: 'adjustment' }] },
        predecessor: { system: STRIPE_SYSTEM.paymentIntent, value: 'pi_1FixtureRef' },
      });
      const b = await refundPair(project.server, 're_1FixtureB');
      // The refund list of a charge carries each refund's own payment_intent; a null one falls back to the charge's.
      expect(b.reconciliation.detail?.[0]?.predecessor).toEqual({
        system: STRIPE_SYSTEM.paymentIntent,
        value: 'pi_1FixtureRef',
      });
      expect(b.reconciliation.status).toBe('draft');
      expect(b.notice.status).toBe('draft');
      expect(b.notice.paymentStatus).toBeUndefined();

      const withoutList = wrapShapedEvent(
        'charge.refunded',
        buildCharge(variant, T, refunds, { includeRefunds: false }),
        shape,
        { created: T + 13 }
      );
      const ignored = await project.deliver(withoutList);
      expect(ignored.status).toBe(200);
      expect(ignored.result.outcome).toBe('ignored');
      expect(ignored.result.reason).toMatch(/no refund list.*2022-11-15/);
      expect(project.server.repo.rejected).toEqual([]);
    });
  }

  it('a refund.created without payment_intent (a charge made without one) has the charge as predecessor', async () => {
    const project = await createTestProject();
    const refund = buildRefund(
      { id: 're_1ChargeOnly', amount: 250, paymentIntent: null, charge: 'ch_1ChargeOnly', created: T + 3 },
      'succeeded'
    );
    const response = await project.deliver(wrapShapedEvent('refund.created', refund, 'openapi', { created: T + 3 }));
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const pair = await refundPair(project.server, 're_1ChargeOnly');
    expect(pair.reconciliation.detail?.[0]?.predecessor).toEqual({
      system: STRIPE_SYSTEM.charge,
      value: 'ch_1ChargeOnly',
    });
    expect(pair.reconciliation.paymentAmount).toEqual({ value: -2.5, currency: 'USD' });
    expect(pair.notice.status).toBe('active');
  });

  it('refund.created|updated from the refund fixture, and invoice_payment.paid (current shape only)', async () => {
    const project = await createTestProject();
    const invoice = await storeInvoice(project, 'in_1FixtureInpay');
    const variant = { id: 'pi_1FixtureInpay', amount: 2500, invoice: 'in_1FixtureInpay' };
    const paid = await project.deliver(
      wrapShapedEvent('invoice_payment.paid', buildInvoicePayment(variant, T + 1), 'openapi', { created: T + 1 })
    );
    expect(paid.status, JSON.stringify(paid.body)).toBe(200);
    expect(paid.result).toMatchObject({ outcome: 'processed', target: BOT_NAME.paymentIntent });
    const pair = await paymentPair(project.server, variant.id);
    expect(pair.reconciliation.paymentAmount).toEqual({ value: 25, currency: 'USD' });
    expect(pair.notice.request?.reference).toBe(`Invoice/${invoice.id}`);

    const refund = {
      id: 're_1FixtureRe',
      amount: 2500,
      paymentIntent: variant.id,
      charge: 'ch_1FixtureInpay',
      created: T + 20,
    };
    for (const [type, status, created] of [
      ['refund.created', 'pending', T + 20],
      ['refund.updated', 'succeeded', T + 30],
    ] as const) {
      const response = await project.deliver(
        wrapShapedEvent(type, buildRefund(refund, status), 'openapi', { created })
      );
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect(response.result.outcome).toBe('processed');
    }
    const { reconciliation } = await refundPair(project.server, 're_1FixtureRe');
    expect(reconciliation.status).toBe('active');
    expect(reconciliation.paymentAmount).toEqual({ value: -25, currency: 'USD' });
    expect(reconciliation.paymentDate).toBe('2025-10-09');
    expect(project.server.repo.rejected).toEqual([]);
  });

  it('the raw invoice_payment fixture (placeholders, status "status") is ignored with a reason, not an error', async () => {
    const project = await createTestProject();
    const raw = loadStripeFixture<StripeInvoicePayment>('openapi', 'invoice_payment');
    const response = await project.deliver(wrapShapedEvent('invoice_payment.paid', raw, 'openapi'));
    expect(response.status).toBe(200);
    expect(response.result.outcome).toBe('ignored');
    expect(response.result.reason).toMatch(/not a payment intent|not paid/);
    expect(await project.server.all('PaymentReconciliation')).toEqual([]);
  });
});

describe('payment intent events that move no money', () => {
  const statuses: [string, StripePaymentIntent['status']][] = [
    ['payment_intent.created', 'requires_payment_method'],
    ['payment_intent.processing', 'processing'],
    ['payment_intent.requires_action', 'requires_action'],
    ['payment_intent.amount_capturable_updated', 'requires_capture'],
    ['payment_intent.partially_funded', 'requires_payment_method'],
    ['payment_intent.payment_failed', 'requires_payment_method'],
  ];
  for (const shape of SHAPES) {
    it(`are ignored with a reason recorded on the archive, writing nothing (${shape})`, async () => {
      const project = await createTestProject();
      for (const [type, status] of statuses) {
        const event = wrapShapedEvent(type, buildPaymentIntent({ id: 'pi_1NoMoney', shape }, status, T), shape);
        const response = await project.deliver(event);
        expect(response.status, JSON.stringify(response.body)).toBe(200);
        expect(response.result).toMatchObject({ outcome: 'ignored', target: BOT_NAME.paymentIntent });
        expect(response.result.reason).toContain(`is ${status}: no money has moved`);
        const archive = (await project.server.all<Communication>('Communication')).find((c) =>
          c.identifier?.some((i) => i.value === event.id)
        );
        expect(archive?.status).toBe('completed');
        expect(archive?.note?.[0]?.text).toContain('no money has moved');
      }
      expect(await project.server.all('PaymentReconciliation')).toEqual([]);
      expect(await project.server.all('PaymentNotice')).toEqual([]);
    });
  }

  it('payment_intent.canceled writes nothing when no payment was recorded', async () => {
    const project = await createTestProject();
    const response = await project.deliver(
      wrapShapedEvent('payment_intent.canceled', buildPaymentIntent({ id: 'pi_1Cancel0' }, 'canceled', T), 'openapi')
    );
    expect(response.status).toBe(200);
    expect(response.result.outcome).toBe('ignored');
    expect(response.result.reason).toMatch(/nothing to cancel/);
    expect(await project.server.all('PaymentReconciliation')).toEqual([]);
    expect(await project.server.all('PaymentNotice')).toEqual([]);
  });

  it('payment_intent.canceled marks an existing pair cancelled, keeping amount, date and invoice link', async () => {
    const project = await createTestProject();
    const variant = { id: 'pi_1Cancel1', amount: 700, invoice: 'in_1Cancel1' };
    await project.deliver(
      wrapShapedEvent('invoice_payment.paid', buildInvoicePayment(variant, T), 'openapi', { created: T })
    );
    const response = await project.deliver(
      wrapShapedEvent('payment_intent.canceled', buildPaymentIntent(variant, 'canceled', T + 60), 'openapi', {
        created: T + 60,
      })
    );
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.result.outcome).toBe('processed');
    const { reconciliation, notice } = await paymentPair(project.server, variant.id);
    expect(reconciliation).toMatchObject({ status: 'cancelled', outcome: 'error', paymentAmount: { value: 7 } });
    expect(reconciliation.detail?.[0]?.request?.identifier?.value).toBe('in_1Cancel1');
    expect(notice.status).toBe('cancelled');
    expect(notice.paymentStatus).toBeUndefined();
    expect(project.server.repo.rejected).toEqual([]);
  });
});
