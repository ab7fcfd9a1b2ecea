import type { BotEvent, MedplumClient } from '@medplum/core';
import { handleStripeWebhook, type RouterResult } from '../src/router/router';

/** Stripe's webhook endpoint: verifies, archives and dispatches every Stripe event. */
export async function handler(medplum: MedplumClient, event: BotEvent): Promise<RouterResult> {
  return handleStripeWebhook(medplum, event);
}
