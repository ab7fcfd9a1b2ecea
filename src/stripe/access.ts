import type { Expandable, StripeInvoice, StripeInvoiceLine, StripeObject } from './types';

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
