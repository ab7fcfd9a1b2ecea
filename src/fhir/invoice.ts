import type { Account, Invoice, InvoiceLineItem, Organization, Patient, Reference } from '@medplum/fhirtypes';
import { EXTENSION, STRIPE_SYSTEM } from '../constants';
import { customerIdOf, invoiceSubscriptionId, linePriceId, lineDiscountAmount, lineTaxAmount } from '../stripe/access';
import type { StripeEvent, StripeInvoice, StripeInvoiceLine } from '../stripe/types';
import { customerTag, subjectSourceExtension, type SubjectSource } from './billing-account';
import { toMoney } from './money';
import { appliedEventExtension, type AppliedEvent, type Lifecycle, unixToDateTime } from './order';

/** Lifecycle stages of a Stripe invoice: its `status`, plus `deleted` (drafts only). */
export type InvoiceStage = 'draft' | 'open' | 'uncollectible' | 'paid' | 'void' | 'deleted';

const INVOICE_RANK: Record<InvoiceStage, number> = {
  draft: 0,
  open: 1,
  uncollectible: 2,
  paid: 3,
  void: 3,
  deleted: 3,
};
const TERMINAL_STAGES: ReadonlySet<string> = new Set(['paid', 'void', 'deleted']);

export const invoiceLifecycle: Lifecycle = {
  rank: (stage) => INVOICE_RANK[stage as InvoiceStage] ?? -1,
  isTerminal: (stage) => TERMINAL_STAGES.has(stage),
};

const INVOICE_STATUS: Record<InvoiceStage, Invoice['status']> = {
  draft: 'draft',
  open: 'issued',
  // Stripe still lets an uncollectible invoice be paid or voided; its Stripe status is kept in an extension.
  uncollectible: 'issued',
  paid: 'balanced',
  void: 'cancelled',
  deleted: 'entered-in-error',
};

/** The object's own status decides; the event type only where no status says it (`invoice.deleted`). */
export function invoiceStage(eventType: string, invoice: StripeInvoice): InvoiceStage | undefined {
  if (eventType === 'invoice.deleted') {
    return 'deleted';
  }
  const status = invoice.status;
  return status && status in INVOICE_STATUS ? status : undefined;
}

export interface InvoiceLinks {
  readonly patient?: Reference<Patient>;
  readonly account?: Reference<Account>;
  readonly issuer?: Reference<Organization>;
  /** Where the subject came from (kept on the Invoice, so that `link-customer --move` knows). */
  readonly subjectSource?: SubjectSource;
}

/** Maps the invoice carried by `event` (already known to have an id and a stage) to a FHIR Invoice. */
export function mapInvoice(event: StripeEvent<StripeInvoice>, stage: InvoiceStage, links: InvoiceLinks): Invoice {
  const invoice = event.data.object;
  const applied: AppliedEvent = { id: event.id, created: event.created, stage };
  const subscriptionId = invoiceSubscriptionId(invoice);
  const finalizedAt = invoice.status_transitions?.finalized_at;
  const customerId = customerIdOf(invoice);
  const tags = [
    ...(subscriptionId ? [{ system: STRIPE_SYSTEM.subscription, code: subscriptionId }] : []),
    ...(customerId ? [customerTag(customerId)] : []),
  ];
  return {
    resourceType: 'Invoice',
    ...(tags.length && { meta: { tag: tags } }),
    extension: [
      appliedEventExtension(applied),
      { url: EXTENSION.stripeStatus, valueCode: stage === 'deleted' ? 'deleted' : (invoice.status as string) },
      ...(links.patient && links.subjectSource ? [subjectSourceExtension(links.subjectSource)] : []),
    ],
    identifier: [{ system: STRIPE_SYSTEM.invoice, value: invoice.id }],
    status: INVOICE_STATUS[stage],
    ...(stage === 'void' && { cancelledReason: 'Voided in Stripe' }),
    ...(stage === 'deleted' && { cancelledReason: 'Draft deleted in Stripe' }),
    ...(links.patient && { subject: links.patient, recipient: links.patient }),
    ...(links.issuer && { issuer: links.issuer }),
    ...(links.account && { account: links.account }),
    date: unixToDateTime(
      finalizedAt ?? invoice.created,
      finalizedAt !== undefined && finalizedAt !== null ? 'invoice.status_transitions.finalized_at' : 'invoice.created'
    ),
    ...(invoice.description && { note: [{ text: invoice.description }] }),
    lineItem: (invoice.lines?.data ?? []).map((line, index) => mapLineItem(line, index)),
    totalNet: toMoney(invoice.total_excluding_tax ?? invoice.subtotal, invoice.currency),
    totalGross: toMoney(invoice.total, invoice.currency),
  };
}

function mapLineItem(line: StripeInvoiceLine, index: number): InvoiceLineItem {
  const priceId = linePriceId(line);
  const discount = lineDiscountAmount(line);
  const tax = lineTaxAmount(line);
  return {
    sequence: index + 1,
    chargeItemCodeableConcept: {
      ...(priceId && { coding: [{ system: STRIPE_SYSTEM.price, code: priceId }] }),
      text: line.description || priceId || line.id,
    },
    priceComponent: [
      { type: 'base', amount: toMoney(line.amount, line.currency) },
      ...(discount ? [{ type: 'discount' as const, amount: toMoney(-discount, line.currency) }] : []),
      ...(tax ? [{ type: 'tax' as const, amount: toMoney(tax, line.currency) }] : []),
    ],
  };
}
