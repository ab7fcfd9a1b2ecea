import type { BotEvent, MedplumClient } from '@medplum/core';
import { syncSubscriptionSchedule } from '../src/handlers/subscription-schedule';
import type { TargetResult } from '../src/handlers/target';

/** `subscription_schedule.*` events, dispatched by stripe-router → FHIR Account (schedule machine). */
export async function handler(medplum: MedplumClient, event: BotEvent): Promise<TargetResult> {
  return syncSubscriptionSchedule(medplum, event);
}
