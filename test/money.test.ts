import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { currencyExponent, toMoney } from '../src/fhir/money';

describe('toMoney', () => {
  it.each([
    [5000, 'jpy', 5000, 'JPY'],
    [123456, 'krw', 123456, 'KRW'],
    [1, 'clp', 1, 'CLP'],
    [1234, 'kwd', 1.234, 'KWD'],
    [5, 'bhd', 0.005, 'BHD'],
    [1999, 'usd', 19.99, 'USD'],
    [10, 'usd', 0.1, 'USD'],
    [-250, 'eur', -2.5, 'EUR'],
    [-7, 'tnd', -0.007, 'TND'],
    [0, 'usd', 0, 'USD'],
  ])('%i %s → %d %s', (minor, currency, value, code) => {
    expect(toMoney(minor, currency)).toEqual({ value, currency: code });
  });

  it('never divides by 100 blindly: exponent by currency', () => {
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('vnd')).toBe(0);
    expect(currencyExponent('KWD')).toBe(3);
    expect(currencyExponent('omr')).toBe(3);
    expect(currencyExponent('usd')).toBe(2);
  });

  it('rejects amounts that are not integer minor units', () => {
    expect(() => toMoney(10.5, 'usd')).toThrow(/integer/);
    expect(() => toMoney(Number.NaN, 'usd')).toThrow(/integer/);
  });

  it('is exact: the decimal text of the value is the minor units with the point moved', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1e12, max: 1e12 }),
        fc.constantFrom('usd', 'jpy', 'kwd', 'eur', 'krw', 'bhd'),
        (minor, currency) => {
          const { value } = toMoney(minor, currency);
          const exponent = currencyExponent(currency);
          // Compare as decimal strings, not floats: 0.1 + 0.2 style errors would show here.
          const digits = Math.abs(minor)
            .toString()
            .padStart(exponent + 1, '0');
          const expected = exponent ? `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}` : digits;
          expect(Math.abs(value as number)).toBe(Number(expected));
          expect(Math.round((value as number) * 10 ** exponent)).toBe(minor);
        }
      )
    );
  });
});
