import type { Invoice } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';
import { currencyExponent, toMinorUnits } from '../fhir/money';
import { formatMinor, isStripeCurrency, minimumCharge } from './currency';
import { requestError } from './errors';
import type { PaymentRequestInput } from './input';

/** What the Checkout Session charges: one line of `amount` minor units. */
export interface Charge {
  readonly amount: number;
  /** Lower-case, as Stripe writes it. */
  readonly currency: string;
  /** The line's name on Stripe's payment page. */
  readonly lineName: string;
  /** The Medplum Invoice the payment settles (an Invoice-based request). */
  readonly invoiceId?: string;
}

export const DEFAULT_LINE_NAME = 'Payment';
const MAX_LINE_NAME = 250;

/** What may be sent to Stripe beyond ids and amounts (Project secrets STRIPE_SHARE_*). */
export interface SharingPolicy {
  readonly shareDescriptions: boolean;
}

/** The charge of an amount request. */
export function chargeFromAmount(input: PaymentRequestInput): Charge {
  const amount = input.amount ?? 0;
  const currency = input.currency ?? '';
  checkCharge(amount, currency, `"amount" ${amount}`);
  return { amount, currency, lineName: input.description ?? DEFAULT_LINE_NAME };
}

/**
 * The charge of an Invoice-based request: the Invoice must be issued, of this Patient, not a mirror
 * of a Stripe invoice (those are paid on Stripe's own invoice page), with a `totalGross`.
 */
export function chargeFromInvoice(
  invoice: Invoice,
  input: PaymentRequestInput,
  sharing: SharingPolicy
): Charge & { invoiceId: string } {
  const label = `Invoice/${invoice.id}`;
  const stripeInvoice = invoice.identifier?.find((i) => i.system === STRIPE_SYSTEM.invoice)?.value;
  if (stripeInvoice) {
    throw requestError(
      `${label} mirrors the Stripe invoice ${stripeInvoice}: the patient pays it on Stripe's hosted invoice page ` +
        '(its hosted_invoice_url), and the invoice bot records the payment'
    );
  }
  if (invoice.status !== 'issued') {
    throw requestError(`${label} is ${invoice.status ?? 'without status'}; only an issued Invoice can be paid`);
  }
  const subject = invoice.subject?.reference;
  if (subject !== `Patient/${input.patientId}`) {
    throw requestError(`${label} is billed to ${subject ?? 'no one'}, not to Patient/${input.patientId}`);
  }
  const total = invoice.totalGross;
  if (total?.value === undefined || !total.currency) {
    throw requestError(`${label} has no totalGross (value and currency) to charge`);
  }
  let amount: number;
  try {
    amount = toMinorUnits(total.value, total.currency);
  } catch (err) {
    throw requestError(`${label}'s totalGross cannot be charged: ${(err as Error).message}`);
  }
  const currency = total.currency.toLowerCase();
  checkCharge(amount, currency, `${label}'s totalGross`);
  const lineTexts = sharing.shareDescriptions ? invoiceLineTexts(invoice) : [];
  const lineName = lineTexts.length ? truncate(lineTexts.join('; ')) : (input.description ?? DEFAULT_LINE_NAME);
  return { amount, currency, lineName, invoiceId: invoice.id as string };
}

/**
 * The money rules Stripe applies before it creates anything: a positive integer amount in a
 * currency Stripe charges in, divisible by 10 in three-decimal currencies, at least the currency's
 * minimum charge.
 */
export function checkCharge(amount: number, currency: string, what: string): void {
  if (!isStripeCurrency(currency)) {
    throw requestError(`unknown currency "${currency}": Stripe charges in ISO 4217 currencies such as usd, eur, jpy`);
  }
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw requestError(`${what} must be a positive integer number of minor units, not ${amount}`);
  }
  if (currencyExponent(currency) === 3 && amount % 10 !== 0) {
    throw requestError(
      `${what} is ${formatMinor(amount, currency)}: Stripe charges ${currency.toUpperCase()} in multiples of 10 ` +
        'minor units (the last of its three decimals must be 0)'
    );
  }
  const minimum = minimumCharge(currency);
  if (minimum !== undefined && amount < minimum) {
    throw requestError(
      `${what} is ${formatMinor(amount, currency)}, below Stripe's minimum charge of ${formatMinor(minimum, currency)}`
    );
  }
}

function invoiceLineTexts(invoice: Invoice): string[] {
  return (invoice.lineItem ?? []).flatMap((line) => {
    const concept = line.chargeItemCodeableConcept;
    const text = concept?.text ?? concept?.coding?.find((c) => c.display)?.display;
    return text?.trim() ? [text.trim()] : [];
  });
}

function truncate(text: string): string {
  return text.length > MAX_LINE_NAME ? `${text.slice(0, MAX_LINE_NAME - 1)}…` : text;
}
