import type { Account, Invoice, Organization, Patient, Reference } from '@medplum/fhirtypes';
import { EXTENSION, STRIPE_SYSTEM } from '../constants';
import { customerIdOf, idOf } from '../stripe/access';
import type { StripeCheckoutSession, StripeEvent } from '../stripe/types';
import { BILLING_ACCOUNT_TYPE, customerTag, subjectSourceExtension, type SubjectSource } from './billing-account';
import { currencyExponent, toMoney } from './money';
import { appliedEventExtension, unixToDateTime, type AppliedEvent, type Lifecycle } from './order';

/** What a session event says about the session's own Invoice. */
export type SessionStage = 'pending' | 'paid' | 'failed';

const SESSION_RANK: Record<SessionStage, number> = { pending: 0, paid: 1, failed: 1 };
export const sessionLifecycle: Lifecycle = {
  rank: (stage) => SESSION_RANK[stage as SessionStage] ?? -1,
  // A paid session cannot fail later, nor a failed one be paid: both are final.
  isTerminal: (stage) => stage === 'paid' || stage === 'failed',
};

const SESSION_STATUS: Record<SessionStage, Invoice['status']> = {
  pending: 'issued',
  paid: 'balanced',
  failed: 'cancelled',
};

/**
 * The stage a session event puts the session in, or undefined when it writes nothing (an open or
 * expired session: nobody has paid or is paying).
 */
export function sessionStage(eventType: string, session: StripeCheckoutSession): SessionStage | undefined {
  if (eventType === 'checkout.session.async_payment_failed') {
    return 'failed';
  }
  if (eventType === 'checkout.session.expired' || session.status === 'expired') {
    return undefined;
  }
  if (session.payment_status === 'paid' || session.payment_status === 'no_payment_required') {
    return 'paid';
  }
  return session.status === 'complete' ? 'pending' : undefined;
}

export interface SessionLinks {
  readonly subject?: { readonly patient: Reference<Patient>; readonly source: SubjectSource };
  readonly account?: Reference<Account>;
  readonly issuer?: Reference<Organization>;
}

/** The Invoice of a `mode=payment` session that created no Stripe invoice (a Payment Link sale, typically). */
export function mapSessionInvoice(
  event: StripeEvent<StripeCheckoutSession>,
  stage: SessionStage,
  links: SessionLinks
): Invoice {
  const session = event.data.object;
  const applied: AppliedEvent = { id: event.id, created: event.created, stage };
  const currency = session.currency ?? 'usd';
  const total = session.amount_total ?? 0;
  const tax = session.total_details?.amount_tax ?? 0;
  const customerId = customerIdOf(session);
  const intentId = idOf(session.payment_intent);
  const tags = [
    ...(customerId ? [customerTag(customerId)] : []),
    ...(intentId ? [{ system: STRIPE_SYSTEM.paymentIntent, code: intentId }] : []),
  ];
  const paymentLinkId = idOf(session.payment_link);
  return {
    resourceType: 'Invoice',
    ...(tags.length && { meta: { tag: tags } }),
    extension: [
      appliedEventExtension(applied),
      {
        url: EXTENSION.stripeStatus,
        valueCode: stage === 'failed' ? 'async_payment_failed' : String(session.payment_status),
      },
      ...(links.subject ? [subjectSourceExtension(links.subject.source)] : []),
    ],
    identifier: [{ system: STRIPE_SYSTEM.checkoutSession, value: session.id }],
    status: SESSION_STATUS[stage],
    ...(stage === 'failed' && { cancelledReason: 'The asynchronous payment of the Checkout Session failed' }),
    ...(links.subject && { subject: links.subject.patient, recipient: links.subject.patient }),
    ...(links.issuer && { issuer: links.issuer }),
    ...(links.account && { account: links.account }),
    date: unixToDateTime(session.created),
    lineItem: [
      {
        sequence: 1,
        chargeItemCodeableConcept: {
          text: paymentLinkId ? `Stripe Payment Link ${paymentLinkId}` : `Stripe Checkout Session ${session.id}`,
        },
        priceComponent: [{ type: 'base', amount: toMoney(total, currency) }],
      },
    ],
    totalNet: toMoney(total - tax, currency),
    totalGross: toMoney(total, currency),
  };
}

/** A subscription's Account created by its Checkout Session before any subscription event: status unknown, no marker. */
export function mapSessionSubscriptionAccount(
  subscriptionId: string,
  customerId: string | undefined,
  links: SessionLinks
): Account {
  return {
    resourceType: 'Account',
    ...(customerId && { meta: { tag: [customerTag(customerId)] } }),
    ...(links.subject && { extension: [subjectSourceExtension(links.subject.source)] }),
    identifier: [{ system: STRIPE_SYSTEM.subscription, value: subscriptionId }],
    status: 'unknown',
    type: BILLING_ACCOUNT_TYPE,
    name: `Stripe subscription ${subscriptionId}`,
    ...(links.subject && { subject: [links.subject.patient] }),
    ...(links.issuer && { owner: links.issuer }),
    ...(links.account && { partOf: links.account }),
  };
}

/**
 * What paying `amountTotal` (minor units) through a session does to a requested Invoice: balanced
 * when it equals the Invoice's `totalGross`, else the Invoice stays as it is and the note says why.
 */
export function settlement(
  invoice: Invoice,
  amountTotal: number,
  currency: string,
  sessionId: string
): { readonly balanced: boolean; readonly note?: string } {
  const paid = toMoney(amountTotal, currency);
  const gross = invoice.totalGross;
  if (
    gross?.value !== undefined &&
    gross.currency === paid.currency &&
    minorUnits(gross.value, currency) === amountTotal
  ) {
    return { balanced: true };
  }
  return {
    balanced: false,
    note:
      `Stripe Checkout Session ${sessionId} paid ${paid.value} ${paid.currency}, but the Invoice's totalGross is ` +
      `${gross?.value ?? 'not set'} ${gross?.currency ?? ''}`.trimEnd() +
      (gross?.value !== undefined && gross.currency === paid.currency
        ? ` (difference ${toMoney(amountTotal - minorUnits(gross.value, currency), currency).value})`
        : '') +
      ': the Invoice stays issued',
  };
}

function minorUnits(value: number, currency: string): number {
  return Math.round(value * 10 ** currencyExponent(currency));
}
