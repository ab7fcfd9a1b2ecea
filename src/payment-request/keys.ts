import { createHash } from 'node:crypto';
import type { Charge } from './charge';
import type { PaymentRequestInput } from './input';

/**
 * Stripe idempotency keys. Stripe keeps a key ~24 h and answers a retry with the first answer, as
 * long as it comes to the same endpoint with the same parameters (else 400 idempotency_error). So
 * each endpoint has its own key, and keys are hashes: no personal data travels in them.
 */
function key(endpoint: string, parts: readonly (string | number | undefined)[]): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([endpoint, ...parts]))
    .digest('hex');
  return `stripe-medplum-${endpoint}-${digest}`;
}

/** The Patient's customer: one per Patient, whoever asks and however often. */
export function customerKey(patientId: string): string {
  return key('customer', [patientId]);
}

/** The contact update of a customer: the same contact details give the same key. */
export function contactKey(customerId: string, contact: { name?: string; email?: string }): string {
  return key('customer-contact', [customerId, contact.name, contact.email]);
}

/**
 * The session of a request: the Patient plus the caller's `requestId` when given, else the
 * Invoice, else the whole content of the request (so two identical amount requests within Stripe's
 * ~24 h key lifetime are one session).
 */
export function sessionKey(input: PaymentRequestInput, charge: Charge): string {
  if (input.requestId !== undefined) {
    return key('checkout-session', ['request', input.patientId, input.requestId]);
  }
  if (charge.invoiceId !== undefined) {
    return key('checkout-session', ['invoice', input.patientId, charge.invoiceId]);
  }
  return key('checkout-session', [
    'content',
    input.patientId,
    charge.amount,
    charge.currency,
    charge.lineName,
    input.successUrl,
    input.cancelUrl,
  ]);
}
