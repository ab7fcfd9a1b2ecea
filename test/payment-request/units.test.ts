import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import { toMinorUnits, toMoney } from '../../src/fhir/money';
import { parseApiOrigin } from '../../src/payment-request/config';
import { pickCustomerId, withCustomerIdentifier } from '../../src/payment-request/customer';
import { customerKey, sessionKey } from '../../src/payment-request/keys';
import { redact } from '../../src/payment-request/stripe-client';

describe('toMinorUnits: FHIR Money back to Stripe minor units, exactly', () => {
  it('is the inverse of toMoney for every safe amount and exponent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 45 }), fc.constantFrom('usd', 'jpy', 'kwd', 'bhd', 'eur'), (n, c) => {
        expect(toMinorUnits(toMoney(n, c).value as number, c)).toBe(n);
      })
    );
  });

  it.each([
    [0.1 + 0.2, 'USD', /has 17 decimals/],
    [10.005, 'USD', /has 3 decimals; the currency has 2/],
    [1.5, 'JPY', /has 1 decimals; the currency has 0/],
    [1e21, 'USD', /not a plain decimal/],
    [Number.NaN, 'USD', /not a plain decimal/],
  ])('refuses %s %s', (value, currency, reason) => {
    expect(() => toMinorUnits(value, currency)).toThrow(reason);
  });
});

describe('customer choice', () => {
  const now = new Date('2026-11-30T12:00:00Z');
  const id = (value: string, period?: { start?: string; end?: string }) => ({
    system: STRIPE_SYSTEM.customer,
    value,
    ...(period && { period }),
  });

  it('takes the newest open one; a closed one never; one whose end is still to come counts as open', () => {
    const patient = {
      resourceType: 'Patient' as const,
      identifier: [
        id('cus_A', { start: '2025-01-01T00:00:00Z' }),
        id('cus_B', { start: '2026-01-01T00:00:00Z', end: '2026-06-01T00:00:00Z' }),
        id('cus_C', { start: '2025-06-01T00:00:00Z', end: '2027-01-01T00:00:00Z' }),
        { system: 'urn:other', value: 'x' },
      ],
    };
    expect(pickCustomerId(patient, now)).toBe('cus_C');
    expect(pickCustomerId({ resourceType: 'Patient', identifier: [id('cus_B', { end: '2026-01-01' })] }, now)).toBe(
      undefined
    );
  });

  it('adds the identifier once, keeping everything else', () => {
    const patient = { resourceType: 'Patient' as const, id: 'p1', identifier: [id('cus_A')], gender: 'male' as const };
    const next = withCustomerIdentifier(patient, 'cus_New', now);
    expect(next).toEqual({
      ...patient,
      identifier: [id('cus_A'), id('cus_New', { start: now.toISOString() })],
    });
    expect(withCustomerIdentifier(patient, 'cus_A', now)).toBeUndefined();
  });
});

describe('idempotency keys', () => {
  const charge = { amount: 5000, currency: 'usd', lineName: 'Payment' };
  it('the session key follows requestId, else the Invoice, else the content; never shows the Patient id', () => {
    const base = { patientId: 'patient-1', amount: 5000, currency: 'usd' };
    expect(sessionKey({ ...base, requestId: 'a' }, charge)).toBe(
      sessionKey({ ...base, requestId: 'a' }, { ...charge, amount: 1 })
    );
    expect(sessionKey({ ...base, requestId: 'a' }, charge)).not.toBe(sessionKey({ ...base, requestId: 'b' }, charge));
    expect(sessionKey(base, charge)).not.toBe(sessionKey(base, { ...charge, amount: 5001 }));
    expect(sessionKey(base, { ...charge, invoiceId: 'i1' })).toBe(
      sessionKey(base, { ...charge, invoiceId: 'i1', lineName: 'other' })
    );
    expect(sessionKey({ ...base, patientId: 'patient-2' }, charge)).not.toBe(sessionKey(base, charge));
    expect(sessionKey(base, charge)).not.toContain('patient-1');
    expect(customerKey('patient-1')).not.toContain('patient-1');
  });
});

describe('STRIPE_API_URL and redaction', () => {
  it('takes an origin, refuses a path', () => {
    expect(parseApiOrigin('http://localhost:12111')).toEqual({ protocol: 'http', host: 'localhost', port: 12111 });
    expect(parseApiOrigin('https://stripe.example/')).toEqual({ protocol: 'https', host: 'stripe.example' });
    expect(() => parseApiOrigin('http://localhost:12111/v1')).toThrow(/origin only/);
    expect(() => parseApiOrigin('ftp://x')).toThrow(/http\(s\) origin/);
  });

  it('removes the key and anything shaped like a Stripe key', () => {
    expect(redact('bad key sk_test_abc123 and rk_live_zz**9 and mine', 'mine')).toBe(
      'bad key [redacted key] and [redacted key] and [redacted]'
    );
  });
});
