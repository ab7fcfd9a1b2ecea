import { Operator, type WithId } from '@medplum/core';
import type { Organization, Practitioner, Resource } from '@medplum/fhirtypes';
import type { EmbeddedFhirServer } from '../../lib/embedded/fhir-server';
import { NAMESPACE } from '../../src/constants';
import { SECRET_NAME } from '../../src/config';
import { PAYMENT_REQUEST_SECRET } from '../../src/payment-request/config';

/** Identifier system of what the local server creates for itself (payee, operator). */
export const LOCAL_SYSTEM = `${NAMESPACE}:local`;

export interface LocalProject {
  readonly payee: WithId<Organization>;
  /** The local operator identity listed in STRIPE_OPERATORS, as setup lists the identity it runs as. */
  readonly operator: WithId<Practitioner>;
  /** True when this start created them (a new store), false when the store had them. */
  readonly created: boolean;
}

export interface LocalSecrets {
  /** `STRIPE_WEBHOOK_SECRET`: what `stripe listen` printed (one or several `whsec_…`, comma-separated). */
  readonly webhookSecret?: string;
  /** `STRIPE_LIVEMODE`: unset accepts both modes. */
  readonly livemode?: string;
  /** The payment-request bot's key and, for stripe-mock or a fake, the API origin (not stored either). */
  readonly paymentRequest?: { readonly secretKey?: string; readonly apiUrl?: string };
}

/**
 * Leaves the embedded store as setup leaves a Medplum project: the payee Organization and an
 * operator identity (created once, found again in a saved store by their identifiers), and the
 * Project secrets that name them. The webhook secret is not stored: it comes from the environment
 * at every start.
 */
export async function ensureLocalProject(server: EmbeddedFhirServer, secrets: LocalSecrets): Promise<LocalProject> {
  const payee = await findOrCreate<Organization>(server, {
    resourceType: 'Organization',
    name: 'Local clinic (npm start)',
    identifier: [{ system: LOCAL_SYSTEM, value: 'payee' }],
  });
  const operator = await findOrCreate<Practitioner>(server, {
    resourceType: 'Practitioner',
    name: [{ text: 'Local operator (npm start)' }],
    identifier: [{ system: LOCAL_SYSTEM, value: 'operator' }],
  });
  server.setSecret(SECRET_NAME.webhookSecret, secrets.webhookSecret || undefined);
  server.setSecret(SECRET_NAME.payee, `Organization/${payee.resource.id}`);
  server.setSecret(SECRET_NAME.operators, `Practitioner/${operator.resource.id}`);
  server.setSecret(SECRET_NAME.livemode, secrets.livemode || undefined);
  server.setSecret(PAYMENT_REQUEST_SECRET.secretKey, secrets.paymentRequest?.secretKey || undefined);
  server.setSecret(PAYMENT_REQUEST_SECRET.apiUrl, secrets.paymentRequest?.apiUrl || undefined);
  return { payee: payee.resource, operator: operator.resource, created: payee.created || operator.created };
}

async function findOrCreate<T extends Resource & { identifier?: { system?: string; value?: string }[] }>(
  server: EmbeddedFhirServer,
  resource: T
): Promise<{ resource: WithId<T>; created: boolean }> {
  const identifier = resource.identifier?.[0];
  const stored = await server.repo.searchOne<T>({
    resourceType: resource.resourceType,
    filters: [{ code: 'identifier', operator: Operator.EQUALS, value: `${identifier?.system}|${identifier?.value}` }],
  });
  return stored ? { resource: stored, created: false } : { resource: await server.seed(resource), created: true };
}
