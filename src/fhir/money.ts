import type { Money } from '@medplum/fhirtypes';

// Stripe's zero-decimal and three-decimal currencies (https://docs.stripe.com/currencies#special-cases).
const ZERO_DECIMAL = new Set([
  'BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF',
]); // prettier-ignore
const THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

/** Number of minor-unit digits Stripe uses for a currency. */
export function currencyExponent(currency: string): number {
  const code = currency.toUpperCase();
  if (ZERO_DECIMAL.has(code)) {
    return 0;
  }
  return THREE_DECIMAL.has(code) ? 3 : 2;
}

/**
 * Converts a Stripe amount in integer minor units to FHIR Money. Exact: the decimal point is placed
 * on the integer's digits, so no binary floating-point division can round the value.
 */
export function toMoney(minorUnits: number, currency: string): Money {
  if (!Number.isSafeInteger(minorUnits)) {
    throw new TypeError(`Stripe amount must be an integer number of minor units, got ${minorUnits}`);
  }
  const exponent = currencyExponent(currency);
  return { value: shiftDecimal(minorUnits, exponent), currency: currency.toUpperCase() as Money['currency'] };
}

function shiftDecimal(minorUnits: number, exponent: number): number {
  if (exponent === 0) {
    return minorUnits;
  }
  const digits = Math.abs(minorUnits)
    .toString()
    .padStart(exponent + 1, '0');
  const text = `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
  return (minorUnits < 0 ? -1 : 1) * Number(text);
}

/**
 * The reverse of `toMoney`: a FHIR Money value in integer minor units, exactly (the decimal digits
 * are moved, never multiplied in binary floating point). Throws when the value has more decimals
 * than the currency has minor units, or is not a finite number.
 */
export function toMinorUnits(value: number, currency: string): number {
  const exponent = currencyExponent(currency);
  const text = Number.isFinite(value) ? String(Math.abs(value)) : '';
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!match) {
    throw new RangeError(`${value} is not a plain decimal amount`);
  }
  const [, whole = '', fraction = ''] = match;
  if (fraction.length > exponent) {
    throw new RangeError(
      `${value} ${currency.toUpperCase()} has ${fraction.length} decimals; the currency has ${exponent}`
    );
  }
  const minor = Number(`${whole}${fraction.padEnd(exponent, '0')}`);
  if (!Number.isSafeInteger(minor)) {
    throw new RangeError(`${value} ${currency.toUpperCase()} is too large`);
  }
  return value < 0 ? -minor : minor;
}
