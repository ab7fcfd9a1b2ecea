import { badRequest, OperationOutcomeError, type BotEvent, type MedplumClient, type WithId } from '@medplum/core';
import type {
  Account,
  Organization,
  PaymentNotice,
  PaymentReconciliation,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import { PATIENT_BILLING_ACCOUNT_SYSTEM, STRIPE_SYSTEM } from '../constants';
import {
  billingAccountQuery,
  isBillingAccountOf,
  mapPatientBillingAccount,
  patientBillingAccountQuery,
} from '../fhir/billing-account';
import { readConfig, SECRET_NAME } from '../config';
import { searchFirstOfEach } from '../fhir/batch-read';
import {
  nextNotice,
  nextReconciliation,
  planIdentifier,
  planInvoiceId,
  planKind,
  planPaymentEvent,
  type PaymentPlan,
} from '../fhir/payment';
import { mergeInvoiceLinks, readInvoiceLink, type InvoiceLink } from '../fhir/payment-link';
import { identifierQuery, readByIdentifier, upsertByIdentifier } from '../fhir/upsert';
import { logInfo } from '../log';
import { customerIdOf, metadataInvoiceId, metadataPatientId } from '../stripe/access';
import type { StripeEvent } from '../stripe/types';
import { ensureBillingAccount } from './customer-claim';
import { customerPatientOf } from './patient-link';
import { repointPayment } from './payment-repoint';
import { ignored, requireStripeEvent, type TargetResult } from './target';

/**
 * `payment_intent.*`, `invoice_payment.paid`, `refund.*`, `charge.refunded`,
 * `charge.refund.updated` → one PaymentReconciliation and one PaymentNotice per payment intent
 * and per refund (docs/design.md, "FHIR mapping"), order-, duplicate- and concurrency-safe.
 */
export async function syncPayment(medplum: MedplumClient, botEvent: BotEvent): Promise<TargetResult> {
  const event = requireStripeEvent(botEvent.input, '');
  const decision = planPaymentEvent(event);
  if ('ignored' in decision) {
    return ignored(decision.ignored);
  }
  const payeeReference = requirePayee(botEvent);

  const resources: string[] = [];
  let written = false;
  const context = paymentContext(event);
  for (const plan of decision.plans) {
    const result = await applyPlan(medplum, plan, payeeReference, context);
    resources.push(...result.resources);
    written ||= result.written;
  }
  if (resources.length === 0) {
    return ignored(
      `payment intent ${planIdentifier(decision.plans[0] as PaymentPlan).value} was canceled with no payment recorded: nothing to cancel`
    );
  }
  if (written) {
    return { outcome: 'processed', resources };
  }
  return { outcome: 'processed', resources, reason: 'the payment records already show this or a later event' };
}

/** PaymentNotice needs a recipient: the payee Organization, which setup creates and names in the secrets. */
function requirePayee(botEvent: BotEvent): Reference<Organization> {
  const payee = readConfig(botEvent.secrets).payee;
  if (!payee) {
    throw new OperationOutcomeError(
      badRequest(
        `Configuration error: ${SECRET_NAME.payee} is not set. PaymentNotice.recipient needs the clinic that ` +
          `Stripe pays: set the Project secret ${SECRET_NAME.payee} to its Organization reference ` +
          '(e.g. "Organization/123"); setup creates the Organization and the secret'
      )
    );
  }
  return payee;
}

interface PlanResult {
  readonly resources: readonly string[];
  readonly written: boolean;
}

/**
 * Writes one pair: the reconciliation first, then the notice derived from the stored
 * reconciliation, so a notice never points at a missing reconciliation and a retry of any event of
 * the payment completes a pair left half-written.
 */
async function applyPlan(
  medplum: MedplumClient,
  plan: PaymentPlan,
  payeeReference: Reference<Organization>,
  context: PaymentContext
): Promise<PlanResult> {
  const identifier = planIdentifier(plan);
  const kind = planKind(plan);
  const eventInvoiceId = planInvoiceId(plan);
  const payeeId = (payeeReference.reference as string).slice('Organization/'.length);
  // A payment that names no Stripe invoice: its session's or request's Invoice, else a billing Account.
  const namesNoInvoice = plan.action === 'upsert' && kind === 'payment' && !eventInvoiceId;
  const fallbackQueries = namesNoInvoice ? fallbackLinkQueries(identifier.value, context) : [];
  const [payee, storedReconciliation, storedNotice, ...rest] = await searchFirstOfEach(medplum, [
    `Organization?_id=${encodeURIComponent(payeeId)}&_count=1`,
    `PaymentReconciliation?${identifierQuery(identifier)}&_count=1`,
    `PaymentNotice?${identifierQuery(identifier)}&_count=1`,
    ...(eventInvoiceId ? [`Invoice?${invoiceQuery(eventInvoiceId)}&_count=1`] : []),
    ...fallbackQueries,
  ]);
  const invoice = eventInvoiceId ? rest[0] : undefined;
  const fallbackMatches = eventInvoiceId ? rest.slice(1) : rest;
  if (!payee) {
    throw new OperationOutcomeError(
      badRequest(
        `Configuration error: ${SECRET_NAME.payee} names ${payeeReference.reference}, which does not exist; ` +
          'setup creates the payee Organization'
      )
    );
  }

  const storedLink = mergeInvoiceLinks(
    readInvoiceLink(storedReconciliation as PaymentReconciliation | undefined),
    readInvoiceLink(storedNotice as PaymentNotice | undefined)
  );
  const link = await resolveInvoiceLink(
    medplum,
    mergeInvoiceLinks(
      storedLink,
      eventInvoiceId
        ? { invoiceId: eventInvoiceId, ...(invoice && { reference: `Invoice/${invoice.id}` }) }
        : namesNoInvoice
          ? await fallbackLink(medplum, fallbackMatches, context, payeeReference)
          : undefined
    ),
    eventInvoiceId
  );

  const reconciliation = await upsertByIdentifier<PaymentReconciliation>(medplum, {
    resourceType: 'PaymentReconciliation',
    identifier,
    preloaded: { resource: storedReconciliation as WithId<PaymentReconciliation> | undefined },
    build: (existing) => nextReconciliation(existing, plan, link, payeeReference),
  });
  if (!reconciliation.resource) {
    // A cancel of a payment intent that never succeeded: there is nothing to mark.
    return { resources: [], written: false };
  }
  const stored = reconciliation.resource;
  const notice = await upsertByIdentifier<PaymentNotice>(medplum, {
    resourceType: 'PaymentNotice',
    identifier,
    preloaded: { resource: storedNotice as WithId<PaymentNotice> | undefined },
    build: (existing) => nextNotice(existing, stored, payeeReference, kind),
  });
  const resources = [`PaymentReconciliation/${stored.id}`];
  if (notice.resource) {
    resources.push(`PaymentNotice/${notice.resource.id}`);
  }
  if (namesNoInvoice && !knowsInvoice(link)) {
    // The checkout bot re-points a pair it finds after writing its Invoice; looking again after our
    // write closes the gap when it wrote between our read and our write.
    const sessionInvoice = await medplum.searchOne('Invoice', paymentIntentTagQuery(identifier.value), {
      cache: 'no-cache',
    });
    if (sessionInvoice) {
      await repointPayment(medplum, identifier.value, { reference: `Invoice/${sessionInvoice.id}` });
    }
  }
  logInfo('payment records synced', {
    [kind === 'payment' ? 'paymentIntent' : 'refund']: identifier.value,
    written: reconciliation.written || notice.written,
    invoiceLink: link?.reference ? 'literal' : link?.invoiceId ? 'logical' : 'none',
  });
  return { resources, written: reconciliation.written || notice.written };
}

/**
 * A link known only by the Stripe invoice id (from a stored resource, when this event does not
 * name the invoice) is looked up once more, so any later event of the payment upgrades it to a
 * literal reference when the Invoice has been stored meanwhile.
 */
async function resolveInvoiceLink(
  medplum: MedplumClient,
  link: InvoiceLink | undefined,
  alreadySearched: string | undefined
): Promise<InvoiceLink | undefined> {
  if (!link?.invoiceId || link.reference || link.invoiceId === alreadySearched) {
    return link;
  }
  const invoice = await readByIdentifier(medplum, {
    resourceType: 'Invoice',
    identifier: { system: STRIPE_SYSTEM.invoice, value: link.invoiceId },
  });
  return invoice ? { ...link, reference: `Invoice/${invoice.id}` } : link;
}

function invoiceQuery(invoiceId: string): string {
  return identifierQuery({ system: STRIPE_SYSTEM.invoice, value: invoiceId });
}

/** What a payment intent's payload says about where its money belongs besides an invoice. */
interface PaymentContext {
  readonly customerId?: string;
  readonly metadataPatientId?: string;
  readonly metadataInvoiceId?: string;
}

function paymentContext(event: StripeEvent): PaymentContext {
  const object = event.data.object as StripeEvent['data']['object'] & { customer?: string | { id: string } | null };
  if (object.object !== 'payment_intent') {
    return {};
  }
  const customerId = customerIdOf(object);
  const patientId = metadataPatientId(object);
  const invoiceId = metadataInvoiceId(object);
  return {
    ...(customerId && { customerId }),
    ...(patientId && { metadataPatientId: patientId }),
    ...(invoiceId && { metadataInvoiceId: invoiceId }),
  };
}

function paymentIntentTagQuery(intentId: string): string {
  return `_tag=${encodeURIComponent(`${STRIPE_SYSTEM.paymentIntent}|${intentId}`)}&_count=1`;
}

/** In order: the requested Invoice, the session's Invoice (by payment-intent tag), the billing Account or the Patient. */
function fallbackLinkQueries(intentId: string, context: PaymentContext): string[] {
  return [
    context.metadataInvoiceId ? `Invoice?_id=${encodeURIComponent(context.metadataInvoiceId)}&_count=1` : '',
    `Invoice?${paymentIntentTagQuery(intentId)}`,
    context.customerId ? `Account?${billingAccountQuery(context.customerId)}&_count=1` : '',
    context.customerId
      ? `Patient?${identifierQuery({ system: STRIPE_SYSTEM.customer, value: context.customerId })}&_count=1`
      : '',
    !context.customerId && context.metadataPatientId
      ? `Patient?_id=${encodeURIComponent(context.metadataPatientId)}&_count=1`
      : '',
  ].filter(Boolean);
}

function knowsInvoice(link: InvoiceLink | undefined): boolean {
  return Boolean(link?.invoiceId || link?.reference);
}

/**
 * Where a payment that names no Stripe invoice points: the Invoice a payment request or its session
 * wrote, else the customer's billing Account, else (no customer) the billing Account of the Patient
 * its metadata names. Creates the customer's billing Account when missing, whatever the link ends
 * up being, so that the set of resources does not depend on which event came first.
 */
async function fallbackLink(
  medplum: MedplumClient,
  matches: readonly (Resource | undefined)[],
  context: PaymentContext,
  payee: Reference<Organization>
): Promise<InvoiceLink | undefined> {
  const invoice = matches.find((m) => m?.resourceType === 'Invoice');
  if (context.customerId) {
    const found = matches.find((m) => isBillingAccountOf(m, context.customerId as string)) as
      WithId<Account> | undefined;
    const holder = customerPatientOf(matches, context.customerId);
    const account = await ensureBillingAccount(medplum, context.customerId, {
      owner: payee,
      ...(holder && { subject: holder }),
      ...(found && { found }),
    });
    return invoice ? { reference: `Invoice/${invoice.id}` } : { account: `Account/${account.id}` };
  }
  if (invoice) {
    return { reference: `Invoice/${invoice.id}` };
  }
  const patient = matches.find((m) => m?.resourceType === 'Patient' && m.id === context.metadataPatientId);
  if (!patient) {
    return undefined;
  }
  const reference = { reference: `Patient/${patient.id}` };
  const result = await upsertByIdentifier<Account>(medplum, {
    resourceType: 'Account',
    identifier: { system: PATIENT_BILLING_ACCOUNT_SYSTEM, value: patient.id as string },
    query: patientBillingAccountQuery(patient.id as string),
    build: (existing) => (existing ? undefined : mapPatientBillingAccount(reference, payee)),
  });
  return result.resource ? { account: `Account/${result.resource.id}` } : undefined;
}
