import { describe, expect, it } from 'vitest';
import { assertValidR4 } from '../../lib/embedded/validate';

describe('assertValidR4', () => {
  const valid = {
    resourceType: 'Invoice' as const,
    status: 'issued' as const,
    totalGross: { value: 10, currency: 'USD' as const },
    lineItem: [{ chargeItemCodeableConcept: { text: 'x' }, priceComponent: [{ type: 'base' as const }] }],
  };

  it('accepts a valid Invoice', () => {
    expect(() => assertValidR4(valid)).not.toThrow();
  });

  it('rejects a status outside the required value set', () => {
    expect(() => assertValidR4({ ...valid, status: 'paid' as never })).toThrow(/Invoice.status: "paid"/);
  });

  it('rejects a lower-case currency', () => {
    expect(() => assertValidR4({ ...valid, totalGross: { value: 1, currency: 'usd' as never } })).toThrow(
      /currency: "usd"/
    );
  });

  it('rejects a price component type outside its value set', () => {
    const lineItem = [{ chargeItemCodeableConcept: { text: 'x' }, priceComponent: [{ type: 'fee' as never }] }];
    expect(() => assertValidR4({ ...valid, lineItem })).toThrow(/priceComponent.type: "fee"/);
  });

  it('rejects structural errors through Medplum validator', () => {
    expect(() => assertValidR4({ ...valid, bogus: 1 } as never)).toThrow(/bogus/);
  });
});
