import type Stripe from 'stripe';
import type { Charge } from './charge';
import type { PaymentRequestInput } from './input';

/** Metadata keys the webhook side reads back (the session's and the payment intent's). */
export const METADATA = { patientId: 'medplum_patient_id', invoiceId: 'medplum_invoice_id' } as const;

/**
 * The Checkout Session's parameters: the same for every retry of a request (nothing time-dependent,
 * no default from the clock), since Stripe refuses a key reused with other parameters.
 */
export function sessionParams(
  input: PaymentRequestInput,
  charge: Charge,
  customerId: string
): Stripe.Checkout.SessionCreateParams {
  const metadata: Record<string, string> = {
    [METADATA.patientId]: input.patientId,
    ...(charge.invoiceId !== undefined && { [METADATA.invoiceId]: charge.invoiceId }),
  };
  return {
    mode: 'payment',
    customer: customerId,
    client_reference_id: input.patientId,
    line_items: [
      {
        quantity: 1,
        price_data: { currency: charge.currency, unit_amount: charge.amount, product_data: { name: charge.lineName } },
      },
    ],
    metadata,
    payment_intent_data: { metadata: { ...metadata } },
    ...(input.successUrl !== undefined && { success_url: input.successUrl }),
    ...(input.cancelUrl !== undefined && { cancel_url: input.cancelUrl }),
  };
}
