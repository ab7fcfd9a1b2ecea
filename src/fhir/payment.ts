import { deepEquals, type WithId } from '@medplum/core';
import type {
  Extension,
  Identifier,
  Organization,
  PaymentNotice,
  PaymentReconciliation,
  Reference,
} from '@medplum/fhirtypes';
import { EXTENSION, STRIPE_SYSTEM } from '../constants';
import { idOf, invoicePaymentIntentId, paidInvoiceId } from '../stripe/access';
import type {
  StripeCharge,
  StripeEvent,
  StripeInvoicePayment,
  StripePaymentIntent,
  StripeRefund,
} from '../stripe/types';
import { toMoney } from './money';
import {
  appliedEventExtension,
  compareEvents,
  readAppliedEvent,
  supersedes,
  unixToDate,
  unixToDateTime,
  type AppliedEvent,
  type Lifecycle,
} from './order';
import {
  mergeInvoiceLinks,
  readInvoiceLink,
  sameInvoiceLink,
  withInvoiceLink,
  invoiceReference,
  type InvoiceLink,
} from './payment-link';

export const PAYMENT_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/payment-type';
export const PAYMENT_STATUS_SYSTEM = 'http://terminology.hl7.org/CodeSystem/paymentstatus';

/**
 * Stages of a payment intent's pair. `invoice_paid` is what `invoice_payment.paid` says (the
 * intent paid an invoice) before the intent's own event says `succeeded`: not terminal and ranked
 * lower, so the intent's own event always wins, whichever arrives first.
 */
export type PaymentIntentStage = 'invoice_paid' | 'succeeded' | 'canceled';
export type RefundStage = 'pending' | 'succeeded' | 'failed' | 'canceled';
export type PaymentKind = 'payment' | 'refund';

const PAYMENT_INTENT_RANK: Record<PaymentIntentStage, number> = { invoice_paid: 0, succeeded: 1, canceled: 1 };
export const paymentIntentLifecycle: Lifecycle = {
  rank: (stage) => PAYMENT_INTENT_RANK[stage as PaymentIntentStage] ?? -1,
  // A succeeded intent cannot be canceled in Stripe, nor a canceled one succeed.
  isTerminal: (stage) => stage === 'succeeded' || stage === 'canceled',
};

const REFUND_RANK: Record<RefundStage, number> = { pending: 0, succeeded: 1, failed: 2, canceled: 2 };
export const refundLifecycle: Lifecycle = {
  rank: (stage) => REFUND_RANK[stage as RefundStage] ?? -1,
  // A succeeded refund can still fail (e.g. the card account is closed); failed and canceled are final.
  isTerminal: (stage) => stage === 'failed' || stage === 'canceled',
};

export function lifecycleOf(kind: PaymentKind): Lifecycle {
  return kind === 'payment' ? paymentIntentLifecycle : refundLifecycle;
}

const STATUS: Record<PaymentIntentStage | RefundStage, Pick<PaymentReconciliation, 'status' | 'outcome'>> = {
  invoice_paid: { status: 'active', outcome: 'complete' },
  succeeded: { status: 'active', outcome: 'complete' },
  pending: { status: 'draft', outcome: 'queued' },
  failed: { status: 'cancelled', outcome: 'error' },
  canceled: { status: 'cancelled', outcome: 'error' },
};

/** What one event says about one payment or refund, in Stripe's terms (integer minor units). */
export interface PaymentFacts {
  readonly kind: PaymentKind;
  /** `https://stripe.com/payment_intent/id|pi_…` or `https://stripe.com/refund/id|re_…`. */
  readonly identifier: { readonly system: string; readonly value: string };
  readonly applied: AppliedEvent;
  /** The Stripe object's own status, where it has one. */
  readonly stripeStatus?: string;
  /** Signed minor units: refunds are negative. */
  readonly amount: number;
  readonly currency: string;
  /** When the money moved (or the refund was made), Unix seconds. */
  readonly at: number;
  readonly invoiceId?: string;
  readonly chargeId?: string;
  /** A refund's payment: the payment intent, else the charge. */
  readonly predecessor?: { readonly system: string; readonly value: string };
  readonly disposition: string;
}

/** What the bot does with one event; `charge.refunded` may carry several refunds, hence a list. */
export type PaymentPlan =
  | { readonly action: 'upsert'; readonly facts: PaymentFacts }
  | {
      readonly action: 'cancel';
      readonly kind: 'payment';
      readonly identifier: { readonly system: string; readonly value: string };
      readonly applied: AppliedEvent;
      readonly invoiceId?: string;
      readonly disposition: string;
    };

export type PaymentDecision = { readonly plans: readonly PaymentPlan[] } | { readonly ignored: string };

/** Decides from the event's object (its own status) what to write. Pure. */
export function planPaymentEvent(event: StripeEvent): PaymentDecision {
  const object = event.data.object;
  switch (object.object) {
    case 'payment_intent':
      return planPaymentIntent(event as StripeEvent<StripePaymentIntent>);
    case 'refund':
      return planRefunds(event, [object as StripeRefund]);
    case 'charge':
      return planChargeRefunded(event as StripeEvent<StripeCharge>);
    case 'invoice_payment':
      return planInvoicePayment(event as StripeEvent<StripeInvoicePayment>);
    default:
      return { ignored: `${event.type} carries a ${object.object}, which this bot does not map` };
  }
}

function planPaymentIntent(event: StripeEvent<StripePaymentIntent>): PaymentDecision {
  const intent = event.data.object;
  if (!intent.id) {
    return { ignored: `${event.type} carries a payment intent without an id` };
  }
  const identifier = { system: STRIPE_SYSTEM.paymentIntent, value: intent.id };
  const invoiceId = paidInvoiceId(intent);
  if (intent.status === 'succeeded') {
    const charge = typeof intent.latest_charge === 'object' ? intent.latest_charge : undefined;
    const chargeId = idOf(intent.latest_charge);
    const facts: PaymentFacts = {
      kind: 'payment',
      identifier,
      applied: { id: event.id, created: event.created, stage: 'succeeded' },
      stripeStatus: 'succeeded',
      amount: intent.amount_received,
      currency: intent.currency,
      // The success time: the latest charge's own timestamp when it is expanded, else the event's.
      at: charge?.created ?? event.created,
      ...(invoiceId && { invoiceId }),
      ...(chargeId && { chargeId }),
      disposition: `Stripe payment intent ${intent.id} succeeded`,
    };
    return { plans: [{ action: 'upsert', facts }] };
  }
  if (intent.status === 'canceled') {
    return {
      plans: [
        {
          action: 'cancel',
          kind: 'payment',
          identifier,
          applied: { id: event.id, created: event.created, stage: 'canceled' },
          ...(invoiceId && { invoiceId }),
          disposition: `Stripe payment intent ${intent.id} canceled${intent.cancellation_reason ? ` (${intent.cancellation_reason})` : ''}`,
        },
      ],
    };
  }
  return {
    ignored: `payment intent ${intent.id} is ${String(intent.status)}: no money has moved, so nothing is written (only succeeded and canceled intents are)`,
  };
}

function planInvoicePayment(event: StripeEvent<StripeInvoicePayment>): PaymentDecision {
  const payment = event.data.object;
  const intentId = invoicePaymentIntentId(payment);
  const invoiceId = idOf(payment.invoice);
  if (!intentId || !invoiceId) {
    return {
      ignored: `invoice payment ${payment.id} is paid by a ${payment.payment?.type ?? 'unknown payment'}, not a payment intent: nothing to link`,
    };
  }
  if (payment.status !== 'paid') {
    return { ignored: `invoice payment ${payment.id} is ${payment.status}, not paid: no money has moved` };
  }
  const facts: PaymentFacts = {
    kind: 'payment',
    identifier: { system: STRIPE_SYSTEM.paymentIntent, value: intentId },
    applied: { id: event.id, created: event.created, stage: 'invoice_paid' },
    amount: payment.amount_paid ?? payment.amount_requested,
    currency: payment.currency,
    at: payment.status_transitions?.paid_at ?? event.created,
    invoiceId,
    disposition: `Stripe payment intent ${intentId} paid invoice ${invoiceId}`,
  };
  return { plans: [{ action: 'upsert', facts }] };
}

function planChargeRefunded(event: StripeEvent<StripeCharge>): PaymentDecision {
  const charge = event.data.object;
  if (event.type !== 'charge.refunded') {
    return { ignored: `${event.type} is not a refund event: only charge.refunded and the refund events are mapped` };
  }
  const refunds = charge.refunds?.data ?? [];
  if (refunds.length === 0) {
    return {
      ignored:
        `charge.refunded of ${charge.id} carries no refund list (API versions since 2022-11-15 leave it out): ` +
        'the refund.created/updated/failed events carry each refund',
    };
  }
  return planRefunds(
    event,
    refunds.map((refund) => ({
      ...refund,
      charge: refund.charge ?? charge.id,
      payment_intent: refund.payment_intent ?? charge.payment_intent ?? null,
    }))
  );
}

function planRefunds(event: StripeEvent, refunds: readonly StripeRefund[]): PaymentDecision {
  const plans: PaymentPlan[] = [];
  const skipped: string[] = [];
  for (const refund of refunds) {
    const stage = refundStage(refund.status);
    if (!refund.id || !stage) {
      skipped.push(`refund ${refund.id ?? '(no id)'} has status ${String(refund.status)}, which maps to no status`);
      continue;
    }
    const intentId = idOf(refund.payment_intent);
    const chargeId = idOf(refund.charge);
    const predecessor = intentId
      ? { system: STRIPE_SYSTEM.paymentIntent, value: intentId }
      : chargeId
        ? { system: STRIPE_SYSTEM.charge, value: chargeId }
        : undefined;
    plans.push({
      action: 'upsert',
      facts: {
        kind: 'refund',
        identifier: { system: STRIPE_SYSTEM.refund, value: refund.id },
        applied: { id: event.id, created: event.created, stage },
        ...(refund.status && { stripeStatus: refund.status }),
        amount: -refund.amount,
        currency: refund.currency,
        at: refund.created,
        ...(predecessor && { predecessor }),
        disposition: `Stripe refund ${refund.id} ${refund.status}${refund.failure_reason ? ` (${refund.failure_reason})` : ''}`,
      },
    });
  }
  return plans.length ? { plans } : { ignored: skipped.join('; ') };
}

/** Refund `requires_action` counts as pending (docs/design.md, "FHIR mapping"). */
export function refundStage(status: StripeRefund['status']): RefundStage | undefined {
  switch (status) {
    case 'pending':
    case 'requires_action':
      return 'pending';
    case 'succeeded':
    case 'failed':
    case 'canceled':
      return status;
    default:
      return undefined;
  }
}

/** Where `facts.at` comes from, for the message of a malformed timestamp. */
const AT_FIELD = 'payment time (charge.created, status_transitions.paid_at or refund.created)';

/** The PaymentReconciliation that `facts` describe. */
export function mapReconciliation(
  facts: PaymentFacts,
  link: InvoiceLink | undefined,
  payee: Reference<Organization>
): PaymentReconciliation {
  const money = toMoney(facts.amount, facts.currency);
  const identifier: Identifier = { ...facts.identifier };
  const isPayment = facts.kind === 'payment';
  const { status, outcome } = STATUS[facts.applied.stage as PaymentIntentStage | RefundStage];
  return {
    resourceType: 'PaymentReconciliation',
    extension: markerExtensions(facts.applied, facts.stripeStatus),
    identifier: [identifier],
    status,
    created: unixToDateTime(facts.at, AT_FIELD),
    // A refund is paid by the clinic; a payment by the patient, whom this element cannot name.
    ...(!isPayment && { paymentIssuer: payee }),
    requestor: payee,
    outcome,
    disposition: facts.disposition,
    paymentDate: unixToDate(facts.at, AT_FIELD),
    paymentAmount: money,
    ...(facts.chargeId && { paymentIdentifier: { system: STRIPE_SYSTEM.charge, value: facts.chargeId } }),
    detail: [
      {
        identifier,
        ...(facts.predecessor && { predecessor: { ...facts.predecessor } }),
        type: { coding: [{ system: PAYMENT_TYPE_SYSTEM, code: isPayment ? 'payment' : 'adjustment' }] },
        ...(link && isPayment && { request: invoiceReference(link) }),
        date: unixToDate(facts.at, AT_FIELD),
        ...(isPayment && { payee }),
        amount: money,
      },
    ],
  };
}

/** The stored reconciliation, cancelled by `plan` (a canceled payment intent); amounts and dates are kept. */
export function cancelReconciliation(
  existing: PaymentReconciliation,
  plan: Extract<PaymentPlan, { action: 'cancel' }>
): PaymentReconciliation {
  const { id: _id, meta: _meta, ...content } = existing;
  return {
    ...content,
    extension: [
      ...(content.extension ?? []).filter(
        (e) => e.url !== EXTENSION.lastAppliedEvent && e.url !== EXTENSION.stripeStatus
      ),
      ...markerExtensions(plan.applied, 'canceled'),
    ],
    status: 'cancelled',
    outcome: 'error',
    disposition: plan.disposition,
  };
}

/**
 * Builds what to write over the stored reconciliation (undefined: leave it): the plan's state when
 * its event supersedes the stored one, else the stored one with the merged Invoice link if that
 * link improved. A cancel never creates.
 */
export function nextReconciliation(
  existing: PaymentReconciliation | undefined,
  plan: PaymentPlan,
  link: InvoiceLink | undefined,
  payee: Reference<Organization>
): PaymentReconciliation | undefined {
  const storedLink = readInvoiceLink(existing);
  const merged = mergeInvoiceLinks(storedLink, link);
  const stored = readAppliedEvent(existing);
  if (plan.action === 'upsert') {
    if (supersedes(plan.facts.applied, stored, lifecycleOf(plan.facts.kind))) {
      return mapReconciliation(plan.facts, merged, payee);
    }
  } else if (existing && supersedes(plan.applied, stored, paymentIntentLifecycle)) {
    return withInvoiceLink(cancelReconciliation(existing, plan), merged);
  }
  if (existing && !sameInvoiceLink(merged, storedLink)) {
    return withInvoiceLink(existing, merged);
  }
  return undefined;
}

/**
 * The notice that goes with a stored reconciliation: same identifier, status, amount, dates,
 * Invoice link and last-applied-event marker; `payment` points at that reconciliation.
 */
export function mapNotice(
  reconciliation: WithId<PaymentReconciliation>,
  payee: Reference<Organization>
): PaymentNotice {
  const detail = reconciliation.detail?.[0];
  const isPayment = detail?.type.coding?.[0]?.code === 'payment';
  return {
    resourceType: 'PaymentNotice',
    ...(reconciliation.extension && { extension: reconciliation.extension }),
    ...(reconciliation.identifier && { identifier: reconciliation.identifier }),
    status: reconciliation.status,
    ...(detail?.request && { request: detail.request }),
    created: reconciliation.created,
    payment: { reference: `PaymentReconciliation/${reconciliation.id}` },
    paymentDate: reconciliation.paymentDate,
    ...(isPayment && { payee }),
    recipient: payee,
    amount: reconciliation.paymentAmount,
    ...(reconciliation.status === 'active' && {
      paymentStatus: { coding: [{ system: PAYMENT_STATUS_SYSTEM, code: 'paid' }] },
    }),
  };
}

/**
 * Builds what to write over the stored notice (undefined: leave it). The notice follows the
 * reconciliation unless it already shows a later event (a concurrent delivery got there first);
 * the Invoice link is merged either way. Writing it from the stored reconciliation, not from the
 * event, is what lets any retry complete a half-written pair.
 */
export function nextNotice(
  existing: PaymentNotice | undefined,
  reconciliation: WithId<PaymentReconciliation>,
  payee: Reference<Organization>,
  kind: PaymentKind
): PaymentNotice | undefined {
  const storedLink = readInvoiceLink(existing);
  const merged = mergeInvoiceLinks(storedLink, readInvoiceLink(reconciliation));
  const noticeEvent = readAppliedEvent(existing);
  const reconciliationEvent = readAppliedEvent(reconciliation);
  const follow =
    !existing ||
    !noticeEvent ||
    !reconciliationEvent ||
    compareEvents(reconciliationEvent, noticeEvent, lifecycleOf(kind)) >= 0;
  if (follow) {
    const next = withInvoiceLink(mapNotice(reconciliation, payee), merged);
    return existing && sameContent(existing, next) ? undefined : next;
  }
  return sameInvoiceLink(merged, storedLink) ? undefined : withInvoiceLink(existing, merged);
}

function markerExtensions(applied: AppliedEvent, stripeStatus: string | undefined): Extension[] {
  return [
    appliedEventExtension(applied),
    ...(stripeStatus ? [{ url: EXTENSION.stripeStatus, valueCode: stripeStatus }] : []),
  ];
}

function sameContent(stored: PaymentNotice, next: PaymentNotice): boolean {
  const { id: _id, meta: _meta, ...content } = stored;
  return deepEquals(content, next);
}

/** The kind of payment an object is, for callers that hold the plan. */
export function planKind(plan: PaymentPlan): PaymentKind {
  return plan.action === 'upsert' ? plan.facts.kind : plan.kind;
}

/** The identifier the pair of `plan` is stored under. */
export function planIdentifier(plan: PaymentPlan): { readonly system: string; readonly value: string } {
  return plan.action === 'upsert' ? plan.facts.identifier : plan.identifier;
}

/** The Stripe invoice id the plan's event names, if any. */
export function planInvoiceId(plan: PaymentPlan): string | undefined {
  return plan.action === 'upsert' ? plan.facts.invoiceId : plan.invoiceId;
}
