import type { BotEvent, MedplumClient } from '@medplum/core';
import { requestPayment, type PaymentRequestResult } from '../src/handlers/payment-request';

/** Called by staff or an app with `Bot/$execute` (not by Stripe): a Stripe Checkout Session for a Patient. */
export async function handler(medplum: MedplumClient, event: BotEvent): Promise<PaymentRequestResult> {
  return requestPayment(medplum, event);
}
