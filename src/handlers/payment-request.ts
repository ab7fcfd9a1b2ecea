import type { BotEvent, MedplumClient, WithId } from '@medplum/core';
import type { Invoice, Patient } from '@medplum/fhirtypes';
import type Stripe from 'stripe';
import { searchFirstOfEach } from '../fhir/batch-read';
import { retryOnConflict } from '../fhir/retry';
import { logInfo } from '../log';
import { chargeFromAmount, chargeFromInvoice, type Charge } from '../payment-request/charge';
import { readPaymentRequestConfig, type PaymentRequestConfig } from '../payment-request/config';
import { patientContact, pickCustomerId, withCustomerIdentifier } from '../payment-request/customer';
import { failure } from '../payment-request/errors';
import { parsePaymentRequestInput, type PaymentRequestInput } from '../payment-request/input';
import { contactKey, customerKey, sessionKey } from '../payment-request/keys';
import { METADATA, sessionParams } from '../payment-request/session';
import { callStripe, createStripeClient, wasReplayed } from '../payment-request/stripe-client';

/** What the caller gets: the page to send the patient to. */
export interface PaymentRequestResult {
  readonly url: string;
  readonly sessionId: string;
  /** When Stripe expires the session (at most 24 h after it was created), ISO 8601. */
  readonly expiresAt: string;
  readonly customer: string;
}

/**
 * `stripe-payment-request`: a Stripe Checkout Session for a Patient, from an issued Invoice or an
 * amount. Everything that can be refused is checked before the first Stripe call, so a refused
 * request creates nothing in Stripe; every Stripe call carries an idempotency key derived from the
 * request, so a retried request gets the same customer and the same session.
 */
export async function requestPayment(medplum: MedplumClient, event: BotEvent): Promise<PaymentRequestResult> {
  const input = parsePaymentRequestInput(event.input);
  const config = readPaymentRequestConfig(event.secrets);
  const { patient, invoice } = await readRecords(medplum, input);
  const charge = invoice ? chargeFromInvoice(invoice, input, config) : chargeFromAmount(input);

  const stripe = createStripeClient(config);
  const customer = await ensureCustomer(medplum, stripe, config, patient);
  const session = await openSession(stripe, config, input, charge, customer);
  logInfo('payment requested', {
    patient: `Patient/${patient.id}`,
    invoice: charge.invoiceId && `Invoice/${charge.invoiceId}`,
    session: session.id,
    customer,
  });
  return {
    url: session.url as string,
    sessionId: session.id,
    expiresAt: new Date(session.expires_at * 1000).toISOString(),
    customer,
  };
}

/** The Patient and the Invoice, in one batched read. */
async function readRecords(
  medplum: MedplumClient,
  input: PaymentRequestInput
): Promise<{ patient: WithId<Patient>; invoice?: WithId<Invoice> }> {
  const [patient, invoice] = await searchFirstOfEach(medplum, [
    `Patient?_id=${encodeURIComponent(input.patientId)}&_count=1`,
    ...(input.invoiceId ? [`Invoice?_id=${encodeURIComponent(input.invoiceId)}&_count=1`] : []),
  ]);
  if (patient?.resourceType !== 'Patient') {
    throw failure(404, `Payment request refused: no Patient/${input.patientId} in this project`);
  }
  if (input.invoiceId && invoice?.resourceType !== 'Invoice') {
    throw failure(404, `Payment request refused: no Invoice/${input.invoiceId} in this project`);
  }
  return {
    patient: patient as WithId<Patient>,
    ...(invoice?.resourceType === 'Invoice' && { invoice: invoice as WithId<Invoice> }),
  };
}

/**
 * The Patient's Stripe customer: the one on the Patient, else one created with the Patient id as
 * its only metadata (keyed by the Patient id, so concurrent requests get one customer) and put on
 * the Patient at once. Contact details go in a separate update, only when sharing is allowed.
 */
async function ensureCustomer(
  medplum: MedplumClient,
  stripe: Stripe,
  config: PaymentRequestConfig,
  patient: WithId<Patient>
): Promise<string> {
  let customerId = pickCustomerId(patient, new Date());
  if (!customerId) {
    const created = await callStripe('creating the Stripe customer', config.secretKey, () =>
      stripe.customers.create(
        { metadata: { [METADATA.patientId]: patient.id } },
        { idempotencyKey: customerKey(patient.id) }
      )
    );
    customerId = created.id;
    await addCustomerIdentifier(medplum, patient, customerId);
  }
  const contact = config.shareContact ? patientContact(patient) : undefined;
  if (contact) {
    const id = customerId;
    await callStripe("updating the Stripe customer's contact details", config.secretKey, () =>
      stripe.customers.update(id, contact, { idempotencyKey: contactKey(id, contact) })
    );
  }
  return customerId;
}

/** Adds the customer identifier to the Patient (If-Match; nothing else changes), re-reading on conflict. */
async function addCustomerIdentifier(medplum: MedplumClient, first: WithId<Patient>, customerId: string) {
  let patient: WithId<Patient> | undefined = first;
  await retryOnConflict(async () => {
    const current = patient ?? (await medplum.readResource('Patient', first.id, { cache: 'no-cache' }));
    patient = undefined;
    const next = withCustomerIdentifier(current, customerId, new Date());
    if (next) {
      await medplum.updateResource(next, { headers: { 'If-Match': `W/"${current.meta?.versionId}"` } });
    }
  });
}

/** Creates the session, or gets the one Stripe made for this request before; only an open one is handed out. */
async function openSession(
  stripe: Stripe,
  config: PaymentRequestConfig,
  input: PaymentRequestInput,
  charge: Charge,
  customerId: string
): Promise<Stripe.Checkout.Session> {
  const key = sessionKey(input, charge);
  const created = await callStripe('creating the Checkout Session', config.secretKey, () =>
    stripe.checkout.sessions.create(sessionParams(input, charge, customerId), { idempotencyKey: key })
  );
  // A replay shows the session as it was created: read what it is now.
  const session = wasReplayed(created)
    ? await callStripe('reading the Checkout Session', config.secretKey, () =>
        stripe.checkout.sessions.retrieve(created.id)
      )
    : created;
  const expired = session.expires_at * 1000 <= Date.now();
  if (session.status !== 'open' || expired || !session.url) {
    const state = session.status === 'complete' ? 'already paid' : expired ? 'expired' : `${session.status}`;
    throw failure(
      409,
      `Payment request refused: this request was already answered with Checkout Session ${session.id}, which is ` +
        `${state}. To request another payment, send a new requestId`
    );
  }
  return session;
}
