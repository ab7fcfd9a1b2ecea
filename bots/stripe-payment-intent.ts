import type { BotEvent, MedplumClient } from '@medplum/core';
import { syncPayment } from '../src/handlers/payment-intent';
import type { TargetResult } from '../src/handlers/target';

/**
 * `payment_intent.*`, `invoice_payment.paid`, `refund.*`, `charge.refunded` and
 * `charge.refund.updated` events, dispatched by stripe-router → PaymentReconciliation + PaymentNotice.
 */
export async function handler(medplum: MedplumClient, event: BotEvent): Promise<TargetResult> {
  return syncPayment(medplum, event);
}
