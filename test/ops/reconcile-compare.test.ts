import { describe, expect, it } from 'vitest';
import {
  compare,
  dayRows,
  eventObjectIds,
  expectationsOf,
  rebuildEvent,
  sameAmount,
  storedKey,
  SUBSCRIPTION_ACCOUNT_STATUS,
  totals,
  type ListedObject,
  type StoredState,
} from '../../scripts/ops/reconcile-compare';
import { STRIPE_SYSTEM } from '../../src/constants';
import { buildCharge, buildInvoice, buildPaymentIntent, buildRefund } from '../../lib/stripe-events/events';
import { loadStripeFixture, type FixtureShape } from '../../lib/stripe-events/fixtures';

const T = 1_760_000_000;
const SHAPES: readonly FixtureShape[] = ['openapi', 'openapi-2025-02-24.acacia'];
const listed = (object: object) => object as unknown as ListedObject;

describe('reconcile: what each Stripe object should look like in FHIR', () => {
  for (const shape of SHAPES) {
    it(`maps invoices by the invoice bot's own status map and totals (${shape})`, () => {
      const statuses = { draft: 'draft', open: 'issued', uncollectible: 'issued', paid: 'balanced', void: 'cancelled' };
      for (const [stripeStatus, fhirStatus] of Object.entries(statuses)) {
        const invoice = buildInvoice({ id: 'in_1Map', shape, amount: 2550 }, stripeStatus as 'paid', T);
        expect(expectationsOf('invoice', listed(invoice))).toEqual([
          {
            kind: 'invoice',
            objectId: 'in_1Map',
            day: '2025-10-09',
            resourceType: 'Invoice',
            system: STRIPE_SYSTEM.invoice,
            status: fhirStatus,
            amount: { value: 25.5, currency: 'USD' },
          },
        ]);
      }
    });

    it(`expects a succeeded intent's pair with the amount received, and nothing for other intents (${shape})`, () => {
      const intent = buildPaymentIntent({ id: 'pi_1Map', shape, amount: 1999 }, 'succeeded', T);
      const expected = expectationsOf('payment_intent', listed(intent));
      expect(expected.map((e) => [e.resourceType, e.system, e.status, e.amount])).toEqual([
        ['PaymentReconciliation', STRIPE_SYSTEM.paymentIntent, 'active', { value: 19.99, currency: 'USD' }],
        ['PaymentNotice', STRIPE_SYSTEM.paymentIntent, 'active', { value: 19.99, currency: 'USD' }],
      ]);
      for (const status of ['processing', 'canceled', 'requires_payment_method'] as const) {
        expect(
          expectationsOf('payment_intent', listed(buildPaymentIntent({ id: 'pi_1No', shape }, status, T)))
        ).toEqual([]);
      }
    });
  }

  it('expects refunds negative, with the refund status map (requires_action counts as pending)', () => {
    const refund = (status: 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled') =>
      expectationsOf(
        'refund',
        listed(buildRefund({ id: 're_1Map', amount: 500, paymentIntent: 'pi_1', charge: 'ch_1', created: T }, status))
      );
    expect(refund('succeeded').map((e) => [e.resourceType, e.status, e.amount?.value])).toEqual([
      ['PaymentReconciliation', 'active', -5],
      ['PaymentNotice', 'active', -5],
    ]);
    expect(refund('pending')[0]?.status).toBe('draft');
    expect(refund('requires_action')[0]?.status).toBe('draft');
    expect(refund('failed')[0]?.status).toBe('cancelled');
    expect(refund('canceled')[0]?.status).toBe('cancelled');
  });

  it('expects a session Invoice only for paid payment-mode sessions without a Stripe invoice', () => {
    // Stripe's checkout session fixture, with the fields that decide made explicit.
    const base = loadStripeFixture<Record<string, unknown>>('openapi', 'checkout.session');
    const session = (changes: Record<string, unknown>) =>
      listed({ ...base, id: 'cs_test_1', created: T, currency: 'jpy', amount_total: 3000, ...changes });
    const paid = { mode: 'payment', invoice: null, payment_status: 'paid' };
    expect(expectationsOf('checkout_session', session(paid))).toEqual([
      expect.objectContaining({
        resourceType: 'Invoice',
        system: STRIPE_SYSTEM.checkoutSession,
        status: 'balanced',
        amount: { value: 3000, currency: 'JPY' },
      }),
    ]);
    expect(
      expectationsOf('checkout_session', session({ ...paid, payment_status: 'no_payment_required' }))
    ).toHaveLength(1);
    expect(expectationsOf('checkout_session', session({ ...paid, payment_status: 'unpaid' }))).toEqual([]);
    expect(expectationsOf('checkout_session', session({ ...paid, invoice: 'in_1' }))).toEqual([]);
    expect(expectationsOf('checkout_session', session({ ...paid, mode: 'subscription' }))).toEqual([]);
  });

  it("expects the subscription's Account with the machine's status map", () => {
    expect(SUBSCRIPTION_ACCOUNT_STATUS).toEqual({
      trialing: 'active',
      active: 'active',
      past_due: 'active',
      incomplete: 'on-hold',
      paused: 'on-hold',
      unpaid: 'on-hold',
      canceled: 'inactive',
      incomplete_expired: 'inactive',
    });
    for (const shape of SHAPES) {
      const subscription = loadStripeFixture<Record<string, unknown>>(shape, 'subscription');
      const [expected] = expectationsOf(
        'subscription',
        listed({ ...subscription, id: 'sub_1', created: T, status: 'past_due' })
      );
      expect(expected).toMatchObject({ resourceType: 'Account', system: STRIPE_SYSTEM.subscription, status: 'active' });
      expect(expected).not.toHaveProperty('amount');
    }
  });

  it('expects a billing Account only for customers whose metadata names a Patient', () => {
    const customer = loadStripeFixture<Record<string, unknown>>('openapi', 'customer');
    const withPatient = listed({ ...customer, id: 'cus_1', created: T, metadata: { medplum_patient_id: 'p-1' } });
    expect(expectationsOf('customer', withPatient)).toEqual([
      expect.objectContaining({ resourceType: 'Account', system: STRIPE_SYSTEM.customer, status: 'active' }),
    ]);
    expect(expectationsOf('customer', listed({ ...customer, id: 'cus_2', created: T, metadata: {} }))).toEqual([]);
  });
});

describe('reconcile: comparison', () => {
  it('compares amounts exactly on the currency’s minor units', () => {
    expect(sameAmount({ value: 12.35, currency: 'USD' }, { value: 12.35, currency: 'USD' })).toBe(true);
    expect(sameAmount({ value: 12.35, currency: 'USD' }, { value: 12.345, currency: 'USD' })).toBe(false);
    expect(sameAmount({ value: 12.35, currency: 'USD' }, { value: 12.35, currency: 'EUR' })).toBe(false);
    expect(sameAmount({ value: 500, currency: 'JPY' }, { value: 500, currency: 'JPY' })).toBe(true);
    expect(sameAmount({ value: 500, currency: 'JPY' }, { value: 500.5, currency: 'JPY' })).toBe(false);
    expect(sameAmount({ value: 1.234, currency: 'KWD' }, { value: 1.234, currency: 'KWD' })).toBe(true);
    expect(sameAmount({ value: 0.3, currency: 'USD' }, { value: 0.1 + 0.2, currency: 'USD' })).toBe(false);
    expect(sameAmount({ value: 1, currency: 'USD' }, undefined)).toBe(false);
  });

  it('finds missing, stale-status and wrong-amount resources, and counts them per day and kind', () => {
    const invoice = (id: string, at: number, status: 'paid' | 'open') =>
      expectationsOf('invoice', listed(buildInvoice({ id, amount: 1000 }, status, at)));
    const expectations = [
      ...invoice('in_1Ok', T, 'paid'),
      ...invoice('in_1Missing', T, 'paid'),
      ...invoice('in_1Stale', T + 86_400, 'paid'),
      ...invoice('in_1Amount', T + 86_400, 'open'),
    ];
    const stored = new Map<string, StoredState>([
      [
        storedKey('Invoice', STRIPE_SYSTEM.invoice, 'in_1Ok'),
        { id: 'a', status: 'balanced', amount: { value: 10, currency: 'USD' } },
      ],
      [
        storedKey('Invoice', STRIPE_SYSTEM.invoice, 'in_1Stale'),
        { id: 'b', status: 'issued', amount: { value: 10, currency: 'USD' } },
      ],
      [
        storedKey('Invoice', STRIPE_SYSTEM.invoice, 'in_1Amount'),
        { id: 'c', status: 'issued', amount: { value: 1000, currency: 'USD' } },
      ],
      // Same id, other system: does not count.
      [storedKey('Invoice', STRIPE_SYSTEM.checkoutSession, 'in_1Missing'), { id: 'd', status: 'balanced' }],
    ]);
    const findings = compare(expectations, stored);
    expect(findings).toEqual([
      expect.objectContaining({ objectId: 'in_1Missing', problem: 'missing', found: 'none', day: '2025-10-09' }),
      expect.objectContaining({
        objectId: 'in_1Stale',
        problem: 'status',
        expected: 'balanced',
        found: 'issued',
        reference: 'Invoice/b',
      }),
      expect.objectContaining({
        objectId: 'in_1Amount',
        problem: 'amount',
        expected: '10 USD',
        found: '1000 USD',
        reference: 'Invoice/c',
      }),
    ]);
    const rows = dayRows(expectations, findings);
    expect(rows).toEqual([
      { day: '2025-10-09', kind: 'invoice', objects: 2, missing: 1, status: 0, amount: 0 },
      { day: '2025-10-10', kind: 'invoice', objects: 2, missing: 0, status: 1, amount: 1 },
    ]);
    expect(totals(rows)).toEqual({ objects: 4, missing: 1, status: 1, amount: 1 });
  });

  it('rebuilds an object as an operator event whose id names the object state and whose time is the read', () => {
    const invoice = listed(buildInvoice({ id: 'in_1Rebuild' }, 'paid', T));
    const event = rebuildEvent('invoice', invoice, T + 999);
    expect(event).toMatchObject({
      object: 'event',
      type: 'invoice.updated',
      created: T + 999,
      data: { object: invoice },
    });
    expect(event.id).toMatch(new RegExp(`^evt_reconcile_in_1Rebuild_${T}_[0-9a-f]{8}$`));
    expect(rebuildEvent('invoice', invoice, T + 5).id).toBe(event.id);
    expect(rebuildEvent('invoice', listed({ ...invoice, total: 1 }), T + 999).id).not.toBe(event.id);
    const intent = listed(buildPaymentIntent({ id: 'pi_1Rebuild' }, 'succeeded', T));
    expect(rebuildEvent('payment_intent', intent, T).type).toBe('payment_intent.succeeded');
    expect(rebuildEvent('subscription', listed({ id: 'sub_1', object: 'subscription', created: T }), T).type).toBe(
      'customer.subscription.updated'
    );
  });

  it('tells which objects an event is about, charges and invoice payments included', () => {
    const refund = buildRefund(
      { id: 're_1', amount: 100, paymentIntent: 'pi_1', charge: 'ch_1', created: T },
      'succeeded'
    );
    const charge = buildCharge({ id: 'pi_1' }, T, [refund], { includeRefunds: true });
    expect(eventObjectIds({ data: { object: charge } }).sort()).toEqual([charge.id, 'pi_1', 're_1'].sort());
    expect(
      eventObjectIds({
        data: { object: { object: 'invoice_payment', id: 'inpay_1', payment: { payment_intent: 'pi_9' } } },
      })
    ).toEqual(['inpay_1', 'pi_9']);
    expect(eventObjectIds({ data: { object: { object: 'invoice', id: 'in_1' } } })).toEqual(['in_1']);
  });
});
