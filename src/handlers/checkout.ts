import {
  badRequest,
  getReferenceString,
  OperationOutcomeError,
  type BotEvent,
  type MedplumClient,
  type WithId,
} from '@medplum/core';
import type { Account, Invoice, Patient, Reference, Resource } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';
import { readConfig } from '../config';
import { searchFirstOfEach } from '../fhir/batch-read';
import { customerTag, readSubjectSource, withTags } from '../fhir/billing-account';
import {
  mapSessionInvoice,
  mapSessionSubscriptionAccount,
  sessionLifecycle,
  sessionStage,
  settlement,
  type SessionLinks,
  type SessionStage,
} from '../fhir/checkout';
import { readAppliedEvent, supersedes } from '../fhir/order';
import { retryOnConflict } from '../fhir/retry';
import { identifierQuery, upsertByIdentifier } from '../fhir/upsert';
import { logInfo } from '../log';
import { clientReferencePatientId, customerIdOf, idOf, metadataInvoiceId, metadataPatientId } from '../stripe/access';
import type { StripeCheckoutSession, StripeEvent } from '../stripe/types';
import { ensureBillingAccount, fillSubject, fillSubscriptionInvoices } from './customer-claim';
import { repointPayment } from './payment-repoint';
import { billingAccountOf, customerPatientOf, patientQueries, pickSubject } from './patient-link';
import { ignored, requireStripeEvent, type TargetResult } from './target';

const SESSION_EVENTS: ReadonlySet<string> = new Set([
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
]);

/**
 * `checkout.session.*` (Checkout and Payment Links) → the session's Invoice, a requested Invoice
 * settled, a Stripe invoice's Invoice linked, or a subscription's Account given its Patient; the
 * session's payment then points at that Invoice. `client_reference_id` (buyer-editable) names the
 * subject of the session's own resources only and never claims the customer.
 */
export async function syncCheckoutSession(medplum: MedplumClient, botEvent: BotEvent): Promise<TargetResult> {
  const config = readConfig(botEvent.secrets);
  const event = requireStripeEvent(botEvent.input, 'checkout.session.') as StripeEvent<StripeCheckoutSession>;
  const session = event.data.object;
  if (session.object !== 'checkout.session' || typeof session.id !== 'string' || !session.id.startsWith('cs_')) {
    throw new OperationOutcomeError(
      badRequest(`Invalid Stripe event: ${event.type} ${event.id} carries no Checkout Session (a cs_… id)`)
    );
  }
  if (!SESSION_EVENTS.has(event.type)) {
    return ignored(`${event.type} is not a session outcome: only completed, async payment and expired are mapped`);
  }
  if (event.type === 'checkout.session.expired') {
    return ignored(`Checkout Session ${session.id} expired unpaid (an abandoned visit): nothing is written`);
  }
  if (session.mode === 'setup') {
    return ignored(
      `Checkout Session ${session.id} is mode=setup (it saves a payment method, no money): nothing is written`
    );
  }
  if (session.mode !== 'payment' && session.mode !== 'subscription') {
    return ignored(`Checkout Session ${session.id} has mode ${JSON.stringify(session.mode)}, which is not mapped`);
  }
  const stage = sessionStage(event.type, session);
  if (!stage) {
    return ignored(`Checkout Session ${session.id} is ${String(session.status)} and unpaid: nothing to write yet`);
  }
  if (session.mode === 'payment' && (typeof session.amount_total !== 'number' || !session.currency)) {
    throw new OperationOutcomeError(
      badRequest(`Invalid Stripe event: Checkout Session ${session.id} of mode=payment has no amount_total or currency`)
    );
  }

  const customerId = customerIdOf(session);
  const rawClientReference = session.client_reference_id;
  const hint = {
    ...(customerId && { customerId }),
    ...(metadataPatientId(session) && { metadataPatientId: metadataPatientId(session) }),
    ...(clientReferencePatientId(session) && { clientReferenceId: clientReferencePatientId(session) }),
  };
  const requestedId = metadataInvoiceId(session);
  const stripeInvoiceId = idOf(session.invoice);
  const subscriptionId = session.mode === 'subscription' ? idOf(session.subscription) : undefined;
  const sessionIdentifier = { system: STRIPE_SYSTEM.checkoutSession, value: session.id };
  const queries = {
    requested: requestedId ? `Invoice?_id=${encodeURIComponent(requestedId)}&_count=1` : '',
    stripeInvoice: stripeInvoiceId
      ? `Invoice?${identifierQuery({ system: STRIPE_SYSTEM.invoice, value: stripeInvoiceId })}&_count=1`
      : '',
    sessionInvoice: `Invoice?${identifierQuery(sessionIdentifier)}&_count=1`,
    subscription: subscriptionId
      ? `Account?${identifierQuery({ system: STRIPE_SYSTEM.subscription, value: subscriptionId })}&_count=1`
      : '',
  };
  const [requested, stripeInvoice, sessionInvoice, subscriptionAccount, ...matches] = await batchRead(medplum, [
    queries.requested,
    queries.stripeInvoice,
    queries.sessionInvoice,
    queries.subscription,
    ...patientQueries(hint),
  ]);
  const subject = pickSubject(matches, hint);
  const notes: string[] = [];
  if (rawClientReference && hint.clientReferenceId === undefined) {
    notes.push('client_reference_id is not a Patient id: ignored');
  } else if (hint.clientReferenceId && subject?.source !== 'client-reference') {
    notes.push(`client_reference_id names no existing Patient (${JSON.stringify(hint.clientReferenceId)}): ignored`);
  }
  if (!subject) {
    notes.push('no Patient found for the session: written without a subject');
  }
  let billingAccount = billingAccountOf(matches, customerId);
  if (customerId) {
    billingAccount = await ensureBillingAccount(medplum, customerId, {
      ...(config.payee && { owner: config.payee }),
      ...(customerPatientOf(matches, customerId) && { subject: customerPatientOf(matches, customerId) }),
      ...(billingAccount && { found: billingAccount }),
    });
  }
  const links: SessionLinks = {
    ...(subject && { subject }),
    ...(billingAccount && { account: { reference: getReferenceString(billingAccount) } }),
    ...(config.payee && { issuer: config.payee }),
  };
  const intentId = idOf(session.payment_intent);
  const resources: string[] = [];

  let invoice: WithId<Invoice> | undefined;
  if (requestedId && requested?.resourceType === 'Invoice') {
    invoice = await settleRequestedInvoice(medplum, requested as WithId<Invoice>, event, stage, links, notes);
  } else {
    if (requestedId) {
      notes.push(`metadata.medplum_invoice_id names no Medplum Invoice (${JSON.stringify(requestedId)})`);
    }
    if (stripeInvoiceId) {
      invoice = stripeInvoice as WithId<Invoice> | undefined;
      if (invoice && subject && !invoice.subject) {
        await fillSubject(medplum, invoice, subject.patient, subject.source);
      }
      if (!invoice) {
        notes.push(`the session's Stripe invoice ${stripeInvoiceId} is not stored yet: its invoice events write it`);
      }
    } else if (session.mode === 'payment') {
      invoice = await upsertSessionInvoice(medplum, event, stage, links, sessionInvoice as WithId<Invoice> | undefined);
    }
  }
  if (invoice) {
    resources.push(`Invoice/${invoice.id}`);
  }
  if (subscriptionId) {
    resources.push(
      ...(await giveSubscriptionItsPatient(
        medplum,
        subscriptionId,
        customerId,
        links,
        subscriptionAccount as WithId<Account> | undefined
      ))
    );
  }
  if (invoice && intentId) {
    // Looked up after our write: a payment written meanwhile is re-pointed here, or finds the Invoice itself.
    const link = {
      reference: `Invoice/${invoice.id}`,
      ...(stripeInvoiceId && invoice === stripeInvoice && { invoiceId: stripeInvoiceId }),
    };
    resources.push(...(await repointPayment(medplum, intentId, link)));
  }
  logInfo('checkout session synced', { session: session.id, stage, subject: subject?.source ?? 'none' });
  return { outcome: 'processed', resources, ...(notes.length && { reason: notes.join('; '), note: notes.join('; ') }) };
}

async function upsertSessionInvoice(
  medplum: MedplumClient,
  event: StripeEvent<StripeCheckoutSession>,
  stage: SessionStage,
  links: SessionLinks,
  stored: WithId<Invoice> | undefined
): Promise<WithId<Invoice> | undefined> {
  const applied = { id: event.id, created: event.created, stage };
  const result = await upsertByIdentifier<Invoice>(medplum, {
    resourceType: 'Invoice',
    identifier: { system: STRIPE_SYSTEM.checkoutSession, value: event.data.object.id },
    preloaded: { resource: stored },
    build: (existing) => {
      if (!supersedes(applied, readAppliedEvent(existing), sessionLifecycle)) {
        return undefined;
      }
      // A subject once set never changes by an event.
      const kept = existing?.subject
        ? { patient: existing.subject as Reference<Patient>, source: readSubjectSource(existing) ?? 'customer' }
        : links.subject;
      return mapSessionInvoice(event, stage, { ...links, ...(kept && { subject: kept }) });
    },
  });
  return result.resource;
}

/**
 * A payment request's Invoice (`metadata.medplum_invoice_id`): balanced when the session paid its
 * `totalGross`, else kept issued with the difference noted; tagged with the payment intent and the
 * customer so the payment and the back-links find it. If-Match; safe to repeat.
 */
async function settleRequestedInvoice(
  medplum: MedplumClient,
  found: WithId<Invoice>,
  event: StripeEvent<StripeCheckoutSession>,
  stage: SessionStage,
  links: SessionLinks,
  notes: string[]
): Promise<WithId<Invoice>> {
  const session = event.data.object;
  const customerId = customerIdOf(session);
  const intentId = idOf(session.payment_intent);
  let preloaded: WithId<Invoice> | undefined = found;
  return retryOnConflict(async () => {
    const invoice = preloaded ?? (await medplum.readResource('Invoice', found.id, { cache: 'no-cache' }));
    preloaded = undefined;
    const outcome =
      stage === 'paid'
        ? settlement(invoice, session.amount_total ?? 0, session.currency ?? 'usd', session.id)
        : undefined;
    const note =
      stage === 'failed'
        ? `The asynchronous payment of Stripe Checkout Session ${session.id} failed: the Invoice stays issued`
        : outcome?.note;
    if (note) {
      notes.push(note);
    }
    const tags = [
      ...(customerId ? [customerTag(customerId)] : []),
      ...(intentId ? [{ system: STRIPE_SYSTEM.paymentIntent, code: intentId }] : []),
    ];
    const meta = withTags(invoice.meta, tags);
    const next: Invoice = {
      ...invoice,
      ...(meta && { meta: { ...invoice.meta, tag: meta.tag } }),
      ...(outcome?.balanced && invoice.status === 'issued' && { status: 'balanced' }),
      ...(note &&
        !(invoice.note ?? []).some((n) => n.text === note) && { note: [...(invoice.note ?? []), { text: note }] }),
      ...(!invoice.subject && links.subject && { subject: links.subject.patient, recipient: links.subject.patient }),
    };
    if (JSON.stringify(next) === JSON.stringify(invoice)) {
      return invoice;
    }
    return medplum.updateResource<Invoice>(next, { headers: { 'If-Match': `W/"${invoice.meta?.versionId}"` } });
  });
}

/**
 * `mode=subscription`: the subscription's Account gets the session's Patient (created with status
 * `unknown` when the session comes first), and whoever first gives it a subject fills its Invoices
 * stored without one.
 */
async function giveSubscriptionItsPatient(
  medplum: MedplumClient,
  subscriptionId: string,
  customerId: string | undefined,
  links: SessionLinks,
  stored: WithId<Account> | undefined
): Promise<string[]> {
  const identifier = { system: STRIPE_SYSTEM.subscription, value: subscriptionId };
  let account = stored;
  if (!account) {
    const result = await upsertByIdentifier<Account>(medplum, {
      resourceType: 'Account',
      identifier,
      preloaded: { resource: undefined },
      build: (existing) => (existing ? undefined : mapSessionSubscriptionAccount(subscriptionId, customerId, links)),
    });
    account = result.resource;
  }
  if (!account) {
    return [];
  }
  const resources = [`Account/${account.id}`];
  if (!links.subject) {
    return resources;
  }
  const billing = links.account?.reference;
  const gaveSubject = !account.subject?.length
    ? await fillSubject(medplum, account, links.subject.patient, links.subject.source, billing)
    : account.subject[0]?.reference === links.subject.patient.reference;
  if (gaveSubject) {
    resources.push(...(await fillSubscriptionInvoices(medplum, [subscriptionId], links.subject.patient)));
  }
  return resources;
}

/** `searchFirstOfEach` over the non-empty queries, with undefined in the slots of empty ones. */
async function batchRead(medplum: MedplumClient, queries: readonly string[]): Promise<(Resource | undefined)[]> {
  const found = await searchFirstOfEach(medplum, queries.filter(Boolean));
  let next = 0;
  return queries.map((q) => (q ? found[next++] : undefined));
}
