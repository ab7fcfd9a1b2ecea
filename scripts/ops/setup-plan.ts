/**
 * The pure half of `npm run setup`: what each managed resource should look like, given what the
 * project holds now, and whether it differs (setup writes only what differs).
 */
import { deepEquals } from '@medplum/core';
import type { AccessPolicy, Bot, Identifier, ProjectSetting } from '@medplum/fhirtypes';
import { BOT_IDENTIFIER_SYSTEM, BOT_NAME, NAMESPACE } from '../../src/constants';
import { ROUTED_EVENT_TYPES } from '../../src/router/routes';
import { STAFF_CALLED_BOTS } from './access-policies';

export const RUNTIMES = ['vmcontext', 'awslambda'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** Medplum's own StructureDefinition of Bot: an element `Bot.rawBody` there means the server has it. */
export const BOT_STRUCTURE_DEFINITION_URL = 'https://medplum.com/fhir/StructureDefinition/Bot';

/** How setup finds the payee Organization it created when the PAYEE_ORGANIZATION secret is gone. */
export const PAYEE_IDENTIFIER: Required<Pick<Identifier, 'system' | 'value'>> = {
  system: `${NAMESPACE}:organization`,
  value: 'payee',
};

/**
 * The Stripe API version setup pins on the webhook endpoint it creates: the newest version whose
 * payload shape the test suites exercise (test/fixtures/stripe/openapi, 2026-07-29.dahlia). The
 * bots read both shapes (before and after 2025-03-31), so an older endpoint keeps working.
 */
export const WEBHOOK_API_VERSION = '2026-07-29.dahlia';

/** Metadata key that ties a Stripe webhook endpoint to the Medplum project it posts to. */
export const ENDPOINT_PROJECT_METADATA = 'stripe_medplum_project';

/** A Bot with Medplum ≥ 5.2's `rawBody` (absent from the 4.5 types). */
export type BotWithRawBody = Bot & { rawBody?: boolean };

/** `on`: set `Bot.rawBody`; `off`: remove it; `leave`: the server may not know the field, do not touch it. */
export type RawBodyChange = 'on' | 'off' | 'leave';

/**
 * When Medplum writes an AuditEvent for a bot run (`Bot.auditEventTrigger`). Each one is a write on
 * the server per event; the archive already records every event, so the target bots default to
 * `on-error`. The router keeps `always`: its AuditEvent is the only record of who posted an event
 * (Stripe's client or which operator), which the archive deliberately leaves out.
 */
export const AUDIT_EVENT_TRIGGERS = ['on-error', 'always'] as const;
export type AuditEventTrigger = (typeof AUDIT_EVENT_TRIGGERS)[number];

/** The trigger setup gives a bot: the router always `always`; the targets `targets` (default `on-error`). */
export function auditEventTriggerOf(name: string, targets: AuditEventTrigger = 'on-error'): AuditEventTrigger {
  // The router's AuditEvent is the only record of who posted; a staff-called bot's, of who asked for a payment.
  return name === BOT_NAME.router || STAFF_CALLED_BOTS.has(name) ? 'always' : targets;
}

export interface BotSpec {
  readonly name: string;
  readonly runtime?: Runtime;
  readonly rawBody: RawBodyChange;
  readonly auditEventTrigger?: AuditEventTrigger;
}

export function botDescription(name: string): string {
  return `stripe-medplum ${name} (managed by npm run setup)`;
}

/** The Bot as setup leaves it: everything else of `existing` kept. */
export function desiredBot(existing: BotWithRawBody, spec: BotSpec): BotWithRawBody {
  const ours = { system: BOT_IDENTIFIER_SYSTEM, value: spec.name };
  const others = (existing.identifier ?? []).filter((i) => i.system !== BOT_IDENTIFIER_SYSTEM);
  const next: BotWithRawBody = {
    ...existing,
    name: spec.name,
    description: botDescription(spec.name),
    identifier: [ours, ...others],
    ...(spec.runtime && { runtimeVersion: spec.runtime }),
    ...(spec.auditEventTrigger && { auditEventTrigger: spec.auditEventTrigger }),
  };
  if (spec.rawBody === 'on') {
    next.rawBody = true;
  } else if (spec.rawBody === 'off') {
    delete next.rawBody;
  }
  return next;
}

/** The fields `desiredBot` changes, for the log. */
export function changedBotFields(existing: BotWithRawBody, next: BotWithRawBody): string[] {
  const fields = ['name', 'description', 'identifier', 'runtimeVersion', 'auditEventTrigger', 'rawBody'] as const;
  return fields.filter((f) => !deepEquals(existing[f], next[f]));
}

/** Whether a stored AccessPolicy already grants exactly what `desired` does. */
export function samePolicy(existing: AccessPolicy, desired: AccessPolicy): boolean {
  const normal = (policy: AccessPolicy) =>
    (policy.resource ?? [])
      .map((r) => ({ ...r, interaction: [...(r.interaction ?? [])].sort() }))
      .sort((a, b) => a.resourceType.localeCompare(b.resourceType));
  return existing.name === desired.name && deepEquals(normal(existing), normal(desired));
}

function settingValue(setting: ProjectSetting | undefined): string | undefined {
  if (!setting) {
    return undefined;
  }
  const value =
    setting.valueString ??
    setting.valueBoolean ??
    setting.valueInteger ??
    setting.valueDecimal ??
    (setting as { valueReference?: { reference?: string } }).valueReference?.reference;
  return value === undefined ? undefined : String(value).trim();
}

/**
 * Project secrets with `updates` applied. Medplum replaces the whole list on write, so every
 * secret setup does not manage is kept as it is, in place.
 */
export function mergeSecrets(
  existing: readonly ProjectSetting[],
  updates: readonly ProjectSetting[]
): { secrets: ProjectSetting[]; changed: string[] } {
  const secrets = [...existing];
  const changed: string[] = [];
  for (const update of updates) {
    const index = secrets.findIndex((s) => s.name === update.name);
    if (index < 0) {
      secrets.push(update);
      changed.push(update.name);
    } else if (settingValue(secrets[index]) !== settingValue(update)) {
      secrets[index] = update;
      changed.push(update.name);
    }
  }
  return { secrets, changed };
}

export function secretValue(secrets: readonly ProjectSetting[], name: string): string | undefined {
  return settingValue(secrets.find((s) => s.name === name)) || undefined;
}

function commaList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** STRIPE_OPERATORS with `identity` added (the others kept, in order). */
export function withOperator(existing: string | undefined, identity: string): string {
  const operators = commaList(existing);
  return (operators.includes(identity) ? operators : [...operators, identity]).join(',');
}

/** STRIPE_WEBHOOK_SECRET with `secret` first (the others kept, for rotation). */
export function withWebhookSecret(existing: string | undefined, secret: string): string {
  return [secret, ...commaList(existing).filter((s) => s !== secret)].join(',');
}

/** Every event type the router dispatches: exactly what the Stripe endpoint subscribes to. */
export function webhookEventTypes(routes: Readonly<Record<string, readonly string[]>> = ROUTED_EVENT_TYPES): string[] {
  return [...new Set(Object.values(routes).flat())].sort();
}

export interface EndpointUrlParts {
  readonly baseUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly routerId: string;
}

/** `https://<client-id>:<client-secret>@<host>/fhir/R4/Bot/<router id>/$execute`, the secret masked unless asked. */
export function endpointUrl(parts: EndpointUrlParts, showSecret = false): string {
  const base = new URL(parts.baseUrl);
  const path = `${base.pathname.replace(/\/?$/, '/')}fhir/R4/Bot/${urlPart(parts.routerId)}/$execute`;
  const secret = showSecret ? urlPart(parts.clientSecret) : '********';
  return `${base.protocol}//${urlPart(parts.clientId)}:${secret}@${base.host}${path}`;
}

/** A dry run's stand-in for an id not created yet, e.g. `<new client>`: printed as is, not URL-encoded. */
export function isPlaceholder(value: string): boolean {
  return /^<[^<>]*>$/.test(value);
}

function urlPart(value: string): string {
  return isPlaceholder(value) ? value : encodeURIComponent(value);
}

/** The fields of a Stripe webhook endpoint that setup reads. */
export interface EndpointState {
  readonly id: string;
  readonly url: string;
  readonly enabled_events: readonly string[];
  readonly api_version?: string | null;
  readonly status?: string;
  readonly description?: string | null;
  readonly metadata?: Readonly<Record<string, string>> | null;
}

export interface DesiredEndpoint {
  readonly url: string;
  readonly enabled_events: readonly string[];
  readonly description: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export function desiredEndpoint(url: string, projectId: string, projectName: string | undefined): DesiredEndpoint {
  return {
    url,
    enabled_events: webhookEventTypes(),
    description: `stripe-medplum router of Medplum project ${projectName ?? projectId}`,
    metadata: { [ENDPOINT_PROJECT_METADATA]: projectId },
  };
}

function hostAndPath(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return url;
  }
}

/** The endpoint of this project: the one tagged with its id, else the one posting to the same URL. */
export function findEndpoint(
  endpoints: readonly EndpointState[],
  projectId: string,
  url: string
): EndpointState | undefined {
  return (
    endpoints.find((e) => e.metadata?.[ENDPOINT_PROJECT_METADATA] === projectId) ??
    endpoints.find((e) => hostAndPath(e.url) === hostAndPath(url))
  );
}

export interface EndpointUpdate {
  url?: string;
  enabled_events?: string[];
  description?: string;
  metadata?: Record<string, string>;
  disabled?: boolean;
}

/** What to send Stripe to make `existing` the desired endpoint, or undefined when it already is. */
export function endpointUpdate(existing: EndpointState, desired: DesiredEndpoint): EndpointUpdate | undefined {
  const update: EndpointUpdate = {};
  if (existing.url !== desired.url) {
    update.url = desired.url;
  }
  const events = [...existing.enabled_events].sort();
  if (!deepEquals(events, [...desired.enabled_events].sort())) {
    update.enabled_events = [...desired.enabled_events];
  }
  if ((existing.description ?? '') !== desired.description) {
    update.description = desired.description;
  }
  const metadataKey = ENDPOINT_PROJECT_METADATA;
  if (existing.metadata?.[metadataKey] !== desired.metadata[metadataKey]) {
    update.metadata = { ...desired.metadata };
  }
  if (existing.status === 'disabled') {
    update.disabled = false;
  }
  return Object.keys(update).length ? update : undefined;
}
