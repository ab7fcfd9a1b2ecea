import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BOT_NAME } from '../../src/constants';
import { planPaymentEvent, refundStage } from '../../src/fhir/payment';
import { mergeInvoiceLinks, type InvoiceLink } from '../../src/fhir/payment-link';
import { ROUTED_EVENT_TYPES, routeEvent } from '../../src/router/routes';
import { buildPaymentIntent, wrapEvent } from '../../lib/stripe-events/events';

describe('routing of the payment family', () => {
  const types = [
    'payment_intent.created',
    'payment_intent.processing',
    'payment_intent.requires_action',
    'payment_intent.amount_capturable_updated',
    'payment_intent.partially_funded',
    'payment_intent.payment_failed',
    'payment_intent.succeeded',
    'payment_intent.canceled',
    'invoice_payment.paid',
    'refund.created',
    'refund.updated',
    'refund.failed',
    'charge.refunded',
    'charge.refund.updated',
  ];

  it('sends every payment, refund and invoice-payment type to stripe-payment-intent, and lists them for setup', () => {
    for (const type of types) {
      expect(routeEvent(type), type).toEqual({ target: BOT_NAME.paymentIntent });
    }
    expect([...(ROUTED_EVENT_TYPES[BOT_NAME.paymentIntent] ?? [])].sort()).toEqual([...types].sort());
  });

  it('keeps invoice.* with the invoice bot (invoice_payment.paid does not start with "invoice.")', () => {
    expect(routeEvent('invoice.paid')).toEqual({ target: BOT_NAME.invoice });
    expect(routeEvent('invoice.payment_succeeded')).toEqual({ target: BOT_NAME.invoice });
    expect(routeEvent('invoice_payment.paid')).toEqual({ target: BOT_NAME.paymentIntent });
  });

  it('routes future payment_intent.* and refund.* types by prefix, and no other charge.* type', () => {
    expect(routeEvent('payment_intent.some_new_stage')).toEqual({ target: BOT_NAME.paymentIntent });
    expect(routeEvent('refund.some_new_stage')).toEqual({ target: BOT_NAME.paymentIntent });
    expect(routeEvent('charge.succeeded')).toHaveProperty('ignored');
    expect(routeEvent('charge.dispute.created')).toHaveProperty('ignored');
  });
});

describe('payment planning (pure)', () => {
  it('counts refund requires_action as pending and maps no unknown status', () => {
    expect(refundStage('requires_action')).toBe('pending');
    expect(refundStage('pending')).toBe('pending');
    expect(refundStage('canceled')).toBe('canceled');
    expect(refundStage(null)).toBeUndefined();
  });

  it('decides by the object’s own status, not the event type', () => {
    const intent = buildPaymentIntent({ id: 'pi_1Plan' }, 'succeeded', 1_760_000_000);
    // A created event whose snapshot already says succeeded: money moved, so the pair is written.
    expect(planPaymentEvent(wrapEvent('payment_intent.created', intent))).toHaveProperty('plans');
    const failed = buildPaymentIntent({ id: 'pi_1Plan' }, 'requires_payment_method', 1_760_000_000);
    expect(planPaymentEvent(wrapEvent('payment_intent.payment_failed', failed))).toEqual({
      ignored: expect.stringContaining('no money has moved'),
    });
  });
});

describe('invoice link merge', () => {
  const linkArb: fc.Arbitrary<InvoiceLink | undefined> = fc.option(
    fc.record({ invoiceId: fc.constant('in_1Same'), reference: fc.constantFrom('Invoice/a') }, { requiredKeys: [] }),
    { nil: undefined }
  );
  const rank = (l: InvoiceLink | undefined): number => (l?.reference ? 2 : 0) + (l?.invoiceId ? 1 : 0);

  it('is order-independent and never loses what either side knows (for one invoice)', () => {
    fc.assert(
      fc.property(linkArb, linkArb, (a, b) => {
        expect(mergeInvoiceLinks(a, b)).toEqual(mergeInvoiceLinks(b, a));
        const merged = mergeInvoiceLinks(a, b);
        expect(rank(merged)).toBeGreaterThanOrEqual(Math.max(rank(a), rank(b)));
      })
    );
  });

  it('keeps the stored invoice when an event names another', () => {
    expect(mergeInvoiceLinks({ invoiceId: 'in_1Kept' }, { invoiceId: 'in_1Other', reference: 'Invoice/x' })).toEqual({
      invoiceId: 'in_1Kept',
    });
  });
});
