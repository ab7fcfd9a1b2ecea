import type {
  Expandable,
  StripeInvoice,
  StripeInvoiceLine,
  StripeObject,
  StripeSubscription,
  StripeSubscriptionItem,
  StripeSubscriptionSchedule,
} from './types';

/** The id of an expandable field, whether Stripe sent the id or the expanded object. */
export function idOf(value: Expandable<{ id: string }> | null | undefined): string | undefined {
  if (typeof value === 'string') {
    return value || undefined;
  }
  return value?.id || undefined;
}

export function customerIdOf(object: { readonly customer?: Expandable<{ id: string }> | null }): string | undefined {
  return idOf(object.customer);
}

/** `metadata.medplum_patient_id`, the second way to name the Patient. */
export function metadataPatientId(object: StripeObject): string | undefined {
  const value = object.metadata?.['medplum_patient_id'];
  return typeof value === 'string' && /^[A-Za-z0-9\-.]{1,64}$/.test(value) ? value : undefined;
}

/** The invoice's subscription: `parent.subscription_details.subscription` since 2025-03-31, `subscription` before. */
export function invoiceSubscriptionId(invoice: StripeInvoice): string | undefined {
  return idOf(invoice.parent?.subscription_details?.subscription) ?? idOf(invoice.subscription);
}

/** The line's price: `pricing.price_details.price` since 2025-03-31, `price` before. */
export function linePriceId(line: StripeInvoiceLine): string | undefined {
  return idOf(line.pricing?.price_details?.price) ?? idOf(line.price);
}

/** Tax of a line in minor units: `taxes` since 2025-03-31, `tax_amounts` before. */
export function lineTaxAmount(line: StripeInvoiceLine): number {
  return sumAmounts(line.taxes ?? line.tax_amounts);
}

export function lineDiscountAmount(line: StripeInvoiceLine): number {
  return sumAmounts(line.discount_amounts);
}

function sumAmounts(items: readonly { readonly amount: number }[] | null | undefined): number {
  return (items ?? []).reduce((sum, item) => sum + item.amount, 0);
}

/**
 * The subscription ids a schedule names: `subscription` (set once the schedule starts), then
 * `released_subscription` (set, and `subscription` cleared, when it is released). No duplicates.
 */
export function scheduleSubscriptionIds(schedule: StripeSubscriptionSchedule): string[] {
  const ids = [idOf(schedule.subscription), schedule.released_subscription || undefined];
  return ids.filter((id, i): id is string => id !== undefined && ids.indexOf(id) === i);
}

/**
 * The invoice a payment intent or charge pays: their `invoice` field, which exists before API
 * 2025-03-31 only; after it, the `invoice_payment.paid` event carries the link.
 */
export function paidInvoiceId(object: { readonly invoice?: Expandable<{ id: string }> | null }): string | undefined {
  return idOf(object.invoice);
}

/** The payment intent an InvoicePayment records, when its payment is one (`payment.type === 'payment_intent'`). */
export function invoicePaymentIntentId(invoicePayment: {
  readonly payment?: { readonly type?: string; readonly payment_intent?: Expandable<{ id: string }> | null } | null;
}): string | undefined {
  const payment = invoicePayment.payment;
  return payment?.type === 'payment_intent' ? idOf(payment.payment_intent) : undefined;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** `metadata.medplum_invoice_id`: the Medplum Invoice a payment request asked to be paid (a bare id). */
export function metadataInvoiceId(object: StripeObject): string | undefined {
  const value = object.metadata?.['medplum_invoice_id'];
  const id = typeof value === 'string' && value.startsWith('Invoice/') ? value.slice('Invoice/'.length) : value;
  return typeof id === 'string' && FHIR_ID.test(id) ? id : undefined;
}

/**
 * A session's `client_reference_id` when it could be a Patient id. Any string a Payment Link URL can
 * carry reaches us here; what is no possible id counts as absent (a `Patient/` prefix is accepted).
 */
export function clientReferencePatientId(session: {
  readonly client_reference_id?: string | null;
}): string | undefined {
  const value = session.client_reference_id;
  const id = typeof value === 'string' && value.startsWith('Patient/') ? value.slice('Patient/'.length) : value;
  return typeof id === 'string' && FHIR_ID.test(id) ? id : undefined;
}

/** The schedule that manages a subscription, when one does (`schedule`, an id or the expanded object). */
export function subscriptionScheduleId(subscription: StripeSubscription): string | undefined {
  return idOf(subscription.schedule);
}

/**
 * An item's current period (Unix seconds): on the item since 2025-03-31, on the subscription before.
 * Missing halves are undefined.
 */
export function itemCurrentPeriod(
  subscription: StripeSubscription,
  item: StripeSubscriptionItem
): { start?: number; end?: number } {
  const onItem = item.current_period_start != null || item.current_period_end != null;
  const start = (onItem ? item.current_period_start : subscription.current_period_start) ?? undefined;
  const end = (onItem ? item.current_period_end : subscription.current_period_end) ?? undefined;
  return { ...(start !== undefined && { start }), ...(end !== undefined && { end }) };
}

/** The product of an item's price (an id, or the expanded object). */
export function itemProductId(item: StripeSubscriptionItem): string | undefined {
  return idOf(item.price?.product);
}
