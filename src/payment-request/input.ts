import { requestError } from './errors';

/** What staff (or an app) send to `Bot/$execute` of stripe-payment-request, checked. */
export interface PaymentRequestInput {
  readonly patientId: string;
  readonly invoiceId?: string;
  /** Integer minor units (cents; yen; fils…), when no Invoice gives the amount. */
  readonly amount?: number;
  /** Lower-case ISO 4217, as Stripe writes it; default `usd` for an amount request. */
  readonly currency?: string;
  readonly description?: string;
  readonly requestId?: string;
  readonly successUrl?: string;
  readonly cancelUrl?: string;
}

export const DEFAULT_CURRENCY = 'usd';

const FIELDS = [
  'patient',
  'invoice',
  'amount',
  'currency',
  'description',
  'requestId',
  'successUrl',
  'cancelUrl',
] as const;

const ID = '[A-Za-z0-9\\-.]{1,64}';
const MAX_TEXT = 250;

/**
 * Checks the shape of a request: `patient` (`Patient/<id>`), then either `invoice`
 * (`Invoice/<id>`: the Invoice gives amount, currency and description) or `amount` (integer minor
 * units) with an optional `currency`; optional `description`, `requestId`, `successUrl` and
 * `cancelUrl`. Money rules that also apply to an Invoice's total are checked by `checkCharge`.
 */
export function parsePaymentRequestInput(given: unknown): PaymentRequestInput {
  // A JSON text (sent as text/plain, e.g. pasted in a form) is read as the object it holds.
  const input = typeof given === 'string' ? parseJson(given) : given;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw requestError(
      'the input must be a JSON object such as {"patient": "Patient/123", "amount": 5000, "currency": "usd"}'
    );
  }
  const fields = input as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !(FIELDS as readonly string[]).includes(key));
  if (unknown.length) {
    throw requestError(`unknown field(s) ${unknown.join(', ')}; the fields are ${FIELDS.join(', ')}`);
  }
  const patientId = reference(fields.patient, 'Patient', 'patient');
  if (patientId === undefined) {
    throw requestError('"patient" is required: the Patient to charge, e.g. "Patient/123"');
  }
  const invoiceId = reference(fields.invoice, 'Invoice', 'invoice');
  const amount = fields.amount;
  if (invoiceId !== undefined && (amount !== undefined || fields.currency !== undefined)) {
    throw requestError('give either "invoice" (its total is charged) or "amount" and "currency", not both');
  }
  if (invoiceId === undefined && amount === undefined) {
    throw requestError('give "invoice" (an issued Invoice of the Patient) or "amount" (integer minor units)');
  }
  if (amount !== undefined && (typeof amount !== 'number' || !Number.isSafeInteger(amount))) {
    throw requestError(
      `"amount" must be an integer number of minor units (5000 is 50.00 USD), not ${JSON.stringify(amount)}`
    );
  }
  const currency = text(fields.currency, 'currency', 16);
  if (currency !== undefined && !/^[A-Za-z]{3}$/.test(currency)) {
    throw requestError(`"currency" must be a three-letter ISO 4217 code such as "usd", not "${currency}"`);
  }
  return {
    patientId,
    ...(invoiceId !== undefined && { invoiceId }),
    ...(amount !== undefined && { amount: amount as number, currency: (currency ?? DEFAULT_CURRENCY).toLowerCase() }),
    ...optional('description', text(fields.description, 'description', MAX_TEXT)),
    ...optional('requestId', text(fields.requestId, 'requestId', 200)),
    ...optional('successUrl', url(fields.successUrl, 'successUrl')),
    ...optional('cancelUrl', url(fields.cancelUrl, 'cancelUrl')),
  };
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

function reference(value: unknown, type: string, field: string): string | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  const match = typeof value === 'string' ? new RegExp(`^${type}/(${ID})$`).exec(value.trim()) : null;
  if (!match?.[1]) {
    throw requestError(`"${field}" must be a reference such as "${type}/123", not ${JSON.stringify(value)}`);
  }
  return match[1];
}

function text(value: unknown, field: string, max: number): string | undefined {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (typeof value !== 'string' || !value.trim()) {
    throw requestError(`"${field}" must be a non-empty string`);
  }
  if (value.trim().length > max) {
    throw requestError(`"${field}" is longer than ${max} characters`);
  }
  return value.trim();
}

function url(value: unknown, field: string): string | undefined {
  const given = text(value, field, 2000);
  if (given === undefined) {
    return undefined;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(given);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw requestError(`"${field}" must be an absolute http(s) URL, not "${given}"`);
  }
  return given;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
