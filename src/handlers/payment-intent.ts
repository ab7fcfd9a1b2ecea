import { badRequest, OperationOutcomeError, type BotEvent, type MedplumClient, type WithId } from '@medplum/core';
import type { Organization, PaymentNotice, PaymentReconciliation, Reference } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';
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
  for (const plan of decision.plans) {
    const result = await applyPlan(medplum, plan, payeeReference);
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
  payeeReference: Reference<Organization>
): Promise<PlanResult> {
  const identifier = planIdentifier(plan);
  const kind = planKind(plan);
  const eventInvoiceId = planInvoiceId(plan);
  const payeeId = (payeeReference.reference as string).slice('Organization/'.length);
  const [payee, storedReconciliation, storedNotice, invoice] = await searchFirstOfEach(medplum, [
    `Organization?_id=${encodeURIComponent(payeeId)}&_count=1`,
    `PaymentReconciliation?${identifierQuery(identifier)}&_count=1`,
    `PaymentNotice?${identifierQuery(identifier)}&_count=1`,
    ...(eventInvoiceId ? [`Invoice?${invoiceQuery(eventInvoiceId)}&_count=1`] : []),
  ]);
  if (!payee) {
    throw new OperationOutcomeError(
      badRequest(
        `Configuration error: ${SECRET_NAME.payee} names ${payeeReference.reference}, which does not exist; ` +
          'setup creates the payee Organization'
      )
    );
  }

  const link = await resolveInvoiceLink(
    medplum,
    mergeInvoiceLinks(
      mergeInvoiceLinks(
        readInvoiceLink(storedReconciliation as PaymentReconciliation | undefined),
        readInvoiceLink(storedNotice as PaymentNotice | undefined)
      ),
      eventInvoiceId ? { invoiceId: eventInvoiceId, ...(invoice && { reference: `Invoice/${invoice.id}` }) } : undefined
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
