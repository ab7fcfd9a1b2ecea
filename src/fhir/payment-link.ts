import type { Invoice, PaymentNotice, PaymentReconciliation, Reference } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';

/**
 * The Invoice a payment pays (docs/design.md, "FHIR mapping"). Known by its Stripe id (a logical reference)
 * and, once the Invoice is stored, by its FHIR reference too (`Invoice/<id>`). The link is
 * monotonic: once known it is kept, and a logical link is only ever upgraded to a literal one.
 */
export interface InvoiceLink {
  /** The Stripe invoice id, `in_…`. */
  readonly invoiceId?: string;
  /** `Invoice/<id>` once the Invoice is stored. */
  readonly reference?: string;
  /**
   * `Account/<id>`: the billing Account, for a payment that names no invoice while no Invoice is
   * known. Any Invoice link replaces it; it never replaces one.
   */
  readonly account?: string;
}

/** The reference we write: literal when the Invoice is stored, logical (by identifier) otherwise. */
export function invoiceReference(link: InvoiceLink): Reference<Invoice> {
  if (!link.reference && !link.invoiceId && link.account) {
    return { reference: link.account, type: 'Account' } as Reference<Invoice>;
  }
  return {
    ...(link.reference && { reference: link.reference }),
    type: 'Invoice',
    ...(link.invoiceId && { identifier: { system: STRIPE_SYSTEM.invoice, value: link.invoiceId } }),
  };
}

/** The link a stored resource carries: `detail[0].request` of a reconciliation, `request` of a notice. */
export function readInvoiceLink(resource: PaymentReconciliation | PaymentNotice | undefined): InvoiceLink | undefined {
  const ref = resource?.resourceType === 'PaymentReconciliation' ? resource.detail?.[0]?.request : resource?.request;
  const reference = ref?.reference?.startsWith('Invoice/') ? ref.reference : undefined;
  const invoiceId = ref?.identifier?.system === STRIPE_SYSTEM.invoice ? ref.identifier.value : undefined;
  if (!reference && !invoiceId && ref?.reference?.startsWith('Account/')) {
    return { account: ref.reference };
  }
  return reference || invoiceId ? { ...(invoiceId && { invoiceId }), ...(reference && { reference }) } : undefined;
}

/**
 * Merges what two sources know of the link. The one already stored (`current`) wins a
 * disagreement about which invoice it is; otherwise the result knows whatever either knows, so
 * the merge is order-independent and never loses a literal reference.
 */
export function mergeInvoiceLinks(
  current: InvoiceLink | undefined,
  incoming: InvoiceLink | undefined
): InvoiceLink | undefined {
  if (!current || !incoming) {
    return current ?? incoming;
  }
  const knowsInvoice = (link: InvoiceLink) => Boolean(link.invoiceId || link.reference);
  if (!knowsInvoice(current) || !knowsInvoice(incoming)) {
    // An Invoice link beats an Account link; between two Account links the stored one stays.
    return knowsInvoice(incoming) ? incoming : current;
  }
  if (current.invoiceId && incoming.invoiceId && current.invoiceId !== incoming.invoiceId) {
    return current;
  }
  if (current.reference && incoming.reference && current.reference !== incoming.reference) {
    return current;
  }
  const invoiceId = current.invoiceId ?? incoming.invoiceId;
  const reference = current.reference ?? incoming.reference;
  return { ...(invoiceId && { invoiceId }), ...(reference && { reference }) };
}

export function sameInvoiceLink(a: InvoiceLink | undefined, b: InvoiceLink | undefined): boolean {
  return a?.invoiceId === b?.invoiceId && a?.reference === b?.reference && a?.account === b?.account;
}

/** A copy of `resource` (without id and meta) that carries `link`. */
export function withInvoiceLink<T extends PaymentReconciliation | PaymentNotice>(
  resource: T,
  link: InvoiceLink | undefined
): T {
  const { id: _id, meta: _meta, ...rest } = resource as PaymentReconciliation | PaymentNotice;
  const content = rest as PaymentReconciliation | PaymentNotice;
  if (!link) {
    return content as T;
  }
  const request = invoiceReference(link);
  if (content.resourceType === 'PaymentNotice') {
    return { ...content, request } as T;
  }
  const [first, ...others] = content.detail ?? [];
  return (first ? { ...content, detail: [{ ...first, request }, ...others] } : content) as T;
}
