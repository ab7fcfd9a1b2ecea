import type { WithId } from '@medplum/core';
import type { Organization, Patient } from '@medplum/fhirtypes';
import { handler as customerHandler } from '../../bots/stripe-customer';
import { handler as invoiceHandler } from '../../bots/stripe-invoice';
import { handler as paymentIntentHandler } from '../../bots/stripe-payment-intent';
import { handler as paymentRequestHandler } from '../../bots/stripe-payment-request';
import { handler as routerHandler } from '../../bots/stripe-router';
import { handler as subscriptionScheduleHandler } from '../../bots/stripe-subscription-schedule';
import { handler as subscriptionHandler } from '../../bots/stripe-subscription';
import { BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import type { RouterResult } from '../../src/router/router';
import { signatureHeader, stripeBody } from '../../lib/stripe-events/events';
import { FhirTestServer, type BotHandler, type ExecuteResponse } from '../../lib/embedded/fhir-server';

export const WEBHOOK_SECRET = 'whsec_test_0123456789abcdef0123456789abcdef';
export const OPERATOR = 'Practitioner/operator-1';
/** The ClientApplication Stripe authenticates as (basic auth in the endpoint URL). */
export const STRIPE_CLIENT = 'ClientApplication/stripe-webhook';
export const CUSTOMER_ID = 'cus_TestPatient1';

export interface TestProject {
  readonly server: FhirTestServer;
  readonly patient: WithId<Patient>;
  readonly payee: WithId<Organization>;
  /** Posts an event to the router as Stripe does: Stripe's serialisation, signed. */
  deliver(event: unknown, options?: DeliverOptions): Promise<ExecuteResponse & { result: RouterResult }>;
  /** Posts an event to the router as an operator replay: unsigned. */
  replay(event: unknown): Promise<ExecuteResponse & { result: RouterResult }>;
}

export interface DeliverOptions {
  readonly secret?: string;
  readonly timestamp?: number;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

export interface ProjectOptions {
  /** Bots by name; defaults to the TypeScript sources of every bot. */
  readonly bots?: Partial<Record<string, BotHandler>>;
  /** Medplum ≥ 5.2 `Bot.rawBody` for the router. */
  readonly rawBody?: boolean;
  readonly withPayee?: boolean;
  /** Validate every write (default true); benchmarks may turn it off. */
  readonly validate?: boolean;
}

export const SOURCE_BOTS: Record<string, BotHandler> = {
  [BOT_NAME.router]: routerHandler,
  [BOT_NAME.invoice]: invoiceHandler,
  [BOT_NAME.subscriptionSchedule]: subscriptionScheduleHandler,
  [BOT_NAME.paymentIntent]: paymentIntentHandler,
  [BOT_NAME.customer]: customerHandler,
  [BOT_NAME.paymentRequest]: paymentRequestHandler,
  [BOT_NAME.subscription]: subscriptionHandler,
};

/**
 * A project as setup leaves it: the bots, the payee Organization, a Patient that carries the
 * Stripe customer id, and the secrets (webhook secret, payee, operators).
 */
export async function createTestProject(options: ProjectOptions = {}): Promise<TestProject> {
  const server = new FhirTestServer({ validate: options.validate ?? true });
  const bots = { ...SOURCE_BOTS, ...options.bots };
  for (const [name, handler] of Object.entries(bots)) {
    if (handler) {
      await server.registerBot(name, handler, { rawBody: name === BOT_NAME.router && options.rawBody });
    }
  }
  const payee = await server.seed<Organization>({ resourceType: 'Organization', name: 'Springfield Clinic' });
  const patient = await server.seed<Patient>({
    resourceType: 'Patient',
    name: [{ given: ['Marge'], family: 'Simpson' }],
    identifier: [{ system: STRIPE_SYSTEM.customer, value: CUSTOMER_ID }],
  });
  server.setSecret('STRIPE_WEBHOOK_SECRET', WEBHOOK_SECRET);
  server.setSecret('STRIPE_OPERATORS', OPERATOR);
  if (options.withPayee !== false) {
    server.setSecret('PAYEE_ORGANIZATION', `Organization/${payee.id}`);
  }

  const post = async (body: string, headers: Record<string, string>, requester: string) => {
    const response = await server.execute(BOT_NAME.router, body, { headers, requester });
    return { ...response, result: response.body as RouterResult };
  };
  return {
    server,
    patient,
    payee,
    deliver: (event, opts = {}) => {
      const body = opts.body ?? stripeBody(event);
      const headers = {
        'stripe-signature': signatureHeader(body, opts.secret ?? WEBHOOK_SECRET, opts.timestamp),
        authorization: 'Basic c3RyaXBlOnNlY3JldA==',
        ...opts.headers,
      };
      return post(body, headers, STRIPE_CLIENT);
    },
    replay: (event) => post(stripeBody(event), {}, OPERATOR),
  };
}
