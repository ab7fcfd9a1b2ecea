/**
 * The Stripe half of `npm run setup` (only with STRIPE_SECRET_KEY): the webhook endpoint that posts
 * to the router, found, created or brought in line with the plan (setup-plan.ts).
 */
import type Stripe from 'stripe';
import type { SetupJournal } from './setup-journal';
import {
  desiredEndpoint,
  endpointUpdate,
  findEndpoint,
  WEBHOOK_API_VERSION,
  webhookEventTypes,
  type EndpointState,
} from './setup-plan';

/** Every webhook endpoint of the Stripe account. */
export async function listEndpoints(stripe: Stripe): Promise<readonly EndpointState[]> {
  return (await stripe.webhookEndpoints.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 })) as EndpointState[];
}

/** The endpoint of this project among `endpoints`: tagged with its id, else posting to `url` (when known). */
export function projectEndpoint(
  endpoints: readonly EndpointState[],
  projectId: string,
  url: string | undefined
): EndpointState | undefined {
  return findEndpoint(endpoints, projectId, url ?? '\u0000');
}

export interface EndpointTarget {
  /** The endpoint URL with the client secret in it. */
  readonly url: string;
  readonly projectId: string;
  readonly projectName: string | undefined;
  readonly apiVersion?: string;
}

/** Creates or updates the Stripe webhook endpoint; returns its id and, when just created, its signing secret. */
export async function ensureStripeEndpoint(
  stripe: Stripe,
  journal: SetupJournal,
  target: EndpointTarget,
  existing: EndpointState | undefined
): Promise<{ endpointId?: string; signingSecret?: string }> {
  const desired = desiredEndpoint(target.url, target.projectId, target.projectName);
  const apiVersion = target.apiVersion ?? WEBHOOK_API_VERSION;
  if (!existing) {
    const created = await journal.write(
      `create the Stripe webhook endpoint (${desired.enabled_events.length} event types, API ${apiVersion})`,
      () =>
        stripe.webhookEndpoints.create({
          url: desired.url,
          enabled_events: [...desired.enabled_events] as Stripe.WebhookEndpointCreateParams.EnabledEvent[],
          description: desired.description,
          metadata: { ...desired.metadata },
          api_version: apiVersion as Stripe.WebhookEndpointCreateParams.ApiVersion,
        }),
      { id: '<new-endpoint-id>' } as Stripe.WebhookEndpoint
    );
    return { endpointId: created.id, ...(created.secret && { signingSecret: created.secret }) };
  }
  const update = endpointUpdate(existing, desired);
  if (update) {
    await journal.write(
      `update the Stripe webhook endpoint ${existing.id} (${Object.keys(update).join(', ')})`,
      () => stripe.webhookEndpoints.update(existing.id, update as Stripe.WebhookEndpointUpdateParams),
      undefined
    );
  }
  if (existing.api_version && existing.api_version !== apiVersion) {
    journal.warn(
      `the Stripe webhook endpoint ${existing.id} sends API version ${existing.api_version}, not ${apiVersion}; ` +
        'Stripe cannot change that on an existing endpoint (the bots read both payload shapes). To move, delete ' +
        'the endpoint in the Dashboard and run setup again, which creates one and stores its new signing secret'
    );
  }
  return { endpointId: existing.id };
}

/** What to tell someone who sets up the endpoint by hand. */
export function manualEndpointHint(): string {
  const types = webhookEventTypes();
  return (
    'STRIPE_SECRET_KEY is not set, so the Stripe webhook endpoint is left to you (docs/deploy.md): give it the ' +
    `URL below and these ${types.length} event types: ${types.join(' ')}`
  );
}
