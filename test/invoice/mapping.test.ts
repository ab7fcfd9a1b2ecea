import type { Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import { invoiceStage, mapInvoice } from '../../src/fhir/invoice';
import { readAppliedEvent } from '../../src/fhir/order';
import type { StripeInvoice } from '../../src/stripe/types';
import { loadStripeFixture } from '../../lib/stripe-events/fixtures';
import { buildInvoice, wrapEvent } from '../../lib/stripe-events/events';
import { assertValidR4 } from '../../lib/embedded/validate';

const links = {
  patient: { reference: 'Patient/p1' },
  account: { reference: 'Account/a1' },
  issuer: { reference: 'Organization/o1' },
};

describe('mapInvoice on Stripe-written invoices', () => {
  // The fixtures are used as Stripe wrote them (placeholder ids and amounts included): only
  // the mapping's structure is checked here, not arithmetic.
  it('maps the current-shape fixture (parent.subscription_details, no price_details)', () => {
    const invoice = loadStripeFixture<StripeInvoice>('openapi', 'invoice');
    const event = wrapEvent('invoice.created', invoice, { id: 'evt_1', created: 1_721_954_060 });
    const fhir = mapInvoice(event, 'draft', links);
    assertValidR4(fhir);
    expect(fhir.status).toBe('draft');
    expect(fhir.identifier).toEqual([{ system: STRIPE_SYSTEM.invoice, value: 'in_1Pgc6tB7WZ01zgkWu9fdqL6I' }]);
    // parent.subscription_details.subscription is the placeholder "subscription" in this fixture.
    // The customer tag lets a claim of the customer back-fill the Invoice's subject.
    expect(fhir.meta?.tag).toEqual([
      { system: STRIPE_SYSTEM.subscription, code: 'subscription' },
      { system: STRIPE_SYSTEM.customer, code: String(invoice.customer) },
    ]);
    expect(fhir.totalGross).toEqual({ value: 10, currency: 'USD' });
    expect(fhir.totalNet).toEqual({ value: 10, currency: 'USD' });
    expect(fhir.date).toBe('2009-02-13T23:31:30Z'); // not finalized: `created` (placeholder 1234567890)
    expect(fhir.lineItem).toEqual([
      {
        sequence: 1,
        chargeItemCodeableConcept: { text: 'My First Invoice Item (created for API docs)' },
        priceComponent: [{ type: 'base', amount: { value: 10, currency: 'USD' } }],
      },
    ]);
  });

  it('maps the pre-2025-03-31 fixture (invoice.subscription, line.price, tax_amounts)', () => {
    const invoice = loadStripeFixture<StripeInvoice>('openapi-2025-02-24.acacia', 'invoice');
    const event = wrapEvent('invoice.created', invoice, { id: 'evt_2', created: 1_721_954_060 });
    const fhir = mapInvoice(event, 'draft', links);
    assertValidR4(fhir);
    // subscription is null in this fixture: only the customer tag.
    expect(fhir.meta?.tag).toEqual([{ system: STRIPE_SYSTEM.customer, code: String(invoice.customer) }]);
    expect(fhir.lineItem?.[0]?.chargeItemCodeableConcept?.coding).toEqual([
      { system: STRIPE_SYSTEM.price, code: 'price_1PgafmB7WZ01zgkW02Hf9z6c' },
    ]);
    expect(fhir.subject).toEqual(links.patient);
    expect(fhir.recipient).toEqual(links.patient);
    expect(fhir.issuer).toEqual(links.issuer);
    expect(fhir.account).toEqual(links.account);
  });
});

describe('mapInvoice on valid variants', () => {
  it.each(['openapi', 'openapi-2025-02-24.acacia'] as const)(
    'reads subscription, price, tax and discount from the %s shape',
    (shape) => {
      const invoice = buildInvoice(
        {
          id: 'in_1Shape',
          shape,
          subscription: 'sub_1Care',
          amount: 10000,
          discount: 1500,
          tax: 850,
          priceId: 'price_1Plan',
        },
        'open',
        1_760_000_100
      );
      const fhir = mapInvoice(
        wrapEvent('invoice.finalized', invoice, { id: 'evt_3', created: 1_760_000_100 }),
        'open',
        {}
      );
      assertValidR4(fhir);
      expect(fhir.status).toBe('issued');
      expect(fhir.meta?.tag).toEqual([
        { system: STRIPE_SYSTEM.subscription, code: 'sub_1Care' },
        { system: STRIPE_SYSTEM.customer, code: 'cus_TestPatient1' },
      ]);
      expect(fhir.date).toBe('2025-10-09T08:55:00Z'); // finalized_at
      expect(fhir.lineItem?.[0]).toEqual({
        sequence: 1,
        chargeItemCodeableConcept: {
          coding: [{ system: STRIPE_SYSTEM.price, code: 'price_1Plan' }],
          text: 'Monthly care plan',
        },
        priceComponent: [
          { type: 'base', amount: { value: 100, currency: 'USD' } },
          { type: 'discount', amount: { value: -15, currency: 'USD' } },
          { type: 'tax', amount: { value: 8.5, currency: 'USD' } },
        ],
      });
      expect(fhir.totalNet).toEqual({ value: 85, currency: 'USD' });
      expect(fhir.totalGross).toEqual({ value: 93.5, currency: 'USD' });
      expect(fhir.subject).toBeUndefined();
    }
  );

  it.each([
    ['invoice.created', 'draft', 'draft'],
    ['invoice.finalized', 'open', 'issued'],
    ['invoice.marked_uncollectible', 'uncollectible', 'issued'],
    ['invoice.paid', 'paid', 'balanced'],
    ['invoice.voided', 'void', 'cancelled'],
    ['invoice.deleted', 'draft', 'entered-in-error'],
  ] as const)('%s with status %s → Invoice.status %s', (type, status, expected) => {
    const invoice = buildInvoice({ id: 'in_1Status' }, status, 1_760_000_000);
    const stage = invoiceStage(type, invoice);
    expect(stage).toBeDefined();
    const fhir: Invoice = mapInvoice(wrapEvent(type, invoice, { id: 'evt_4', created: 1_760_000_000 }), stage!, {});
    assertValidR4(fhir);
    expect(fhir.status).toBe(expected);
    const stripeStatus = fhir.extension?.find((e) => e.url === EXTENSION.stripeStatus)?.valueCode;
    expect(stripeStatus).toBe(type === 'invoice.deleted' ? 'deleted' : status);
    expect(readAppliedEvent(fhir)).toEqual({ id: 'evt_4', created: 1_760_000_000, stage });
    if (expected === 'cancelled' || expected === 'entered-in-error') {
      expect(fhir.cancelledReason).toMatch(/Stripe/);
    }
  });

  it('keeps money exact in zero- and three-decimal currencies', () => {
    const jpy = buildInvoice({ id: 'in_1Jpy', currency: 'jpy', amount: 5000 }, 'open', 1_760_000_000);
    const kwd = buildInvoice({ id: 'in_1Kwd', currency: 'kwd', amount: 12345, tax: 5 }, 'open', 1_760_000_000);
    const krw = buildInvoice({ id: 'in_1Krw', currency: 'krw', amount: 99000 }, 'open', 1_760_000_000);
    expect(mapInvoice(wrapEvent('invoice.finalized', jpy), 'open', {}).totalGross).toEqual({
      value: 5000,
      currency: 'JPY',
    });
    expect(mapInvoice(wrapEvent('invoice.finalized', krw), 'open', {}).totalGross).toEqual({
      value: 99000,
      currency: 'KRW',
    });
    const kwdInvoice = mapInvoice(wrapEvent('invoice.finalized', kwd), 'open', {});
    expect(kwdInvoice.totalGross).toEqual({ value: 12.35, currency: 'KWD' });
    expect(kwdInvoice.lineItem?.[0]?.priceComponent?.[1]).toEqual({
      type: 'tax',
      amount: { value: 0.005, currency: 'KWD' },
    });
  });

  it('has no stage for a status Stripe does not define', () => {
    const invoice = { ...buildInvoice({ id: 'in_1Odd' }, 'open', 1), status: null };
    expect(invoiceStage('invoice.updated', invoice)).toBeUndefined();
  });
});
