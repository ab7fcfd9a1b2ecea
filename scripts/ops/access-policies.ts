import type { AccessPolicy, AccessPolicyResource } from '@medplum/fhirtypes';
import { BOT_NAME } from '../../src/constants';

/** The FHIR interactions an AccessPolicy grants (`AccessPolicy.resource.interaction`). */
export type Interaction = NonNullable<AccessPolicyResource['interaction']>[number];

export interface PolicyRule {
  readonly resourceType: string;
  readonly interaction: readonly Interaction[];
}

/** Looking a type up: a search finds it, a read fetches it (a server needs both, docs/design.md, "Access policies"). */
const LOOKUP: readonly Interaction[] = ['search', 'read'];
/** "Write" includes the search and read that conditional creates and versioned updates need. */
const WRITE: readonly Interaction[] = ['search', 'read', 'create', 'update'];
/** A subscription's Account: write, plus its history, which tells the older of two Accounts to merge. */
const SHARED_ACCOUNT: readonly Interaction[] = [...WRITE, 'history'];

/**
 * What each bot may do, by its name in medplum.config.json (docs/design.md, "Access policies"). PATCH counts as
 * `update` (that is how Medplum checks it). The router's `Bot` rule is narrowed at setup to the
 * bots it dispatches to (`Bot?_id=…`); see `botAccessPolicy`.
 */
export const BOT_ACCESS: Readonly<Record<string, readonly PolicyRule[]>> = {
  [BOT_NAME.router]: [
    { resourceType: 'Communication', interaction: WRITE },
    { resourceType: 'Bot', interaction: LOOKUP },
  ],
  [BOT_NAME.invoice]: [
    { resourceType: 'Invoice', interaction: WRITE },
    // Billing Accounts only (created conditionally when a customer's first invoice comes first).
    { resourceType: 'Account', interaction: WRITE },
    { resourceType: 'Patient', interaction: LOOKUP },
    { resourceType: 'Organization', interaction: LOOKUP },
  ],
  [BOT_NAME.subscriptionSchedule]: [
    { resourceType: 'Account', interaction: SHARED_ACCOUNT },
    { resourceType: 'Invoice', interaction: [...LOOKUP, 'update'] },
    { resourceType: 'Patient', interaction: LOOKUP },
    { resourceType: 'Organization', interaction: LOOKUP },
  ],
  [BOT_NAME.paymentIntent]: [
    { resourceType: 'PaymentNotice', interaction: WRITE },
    { resourceType: 'PaymentReconciliation', interaction: WRITE },
    { resourceType: 'Invoice', interaction: LOOKUP },
    { resourceType: 'Organization', interaction: LOOKUP },
    // The billing Account a payment without an invoice points at, and the Patient its metadata names.
    { resourceType: 'Account', interaction: WRITE },
    { resourceType: 'Patient', interaction: LOOKUP },
  ],
  [BOT_NAME.customer]: [
    // Read, search and update only: the bot adds the customer identifier, never creates or deletes a Patient.
    { resourceType: 'Patient', interaction: [...LOOKUP, 'update'] },
    { resourceType: 'Account', interaction: WRITE },
    { resourceType: 'Invoice', interaction: WRITE },
    { resourceType: 'PaymentNotice', interaction: [...LOOKUP, 'update'] },
    { resourceType: 'PaymentReconciliation', interaction: [...LOOKUP, 'update'] },
  ],
  // Patient update only to add the Stripe customer identifier: a policy cannot narrow it to that
  // field, so test/payment-request/request.test.ts asserts that nothing else of the Patient changes.
  [BOT_NAME.paymentRequest]: [
    { resourceType: 'Patient', interaction: [...LOOKUP, 'update'] },
    { resourceType: 'Invoice', interaction: LOOKUP },
  ],
  [BOT_NAME.subscription]: [
    { resourceType: 'Account', interaction: SHARED_ACCOUNT },
    { resourceType: 'Invoice', interaction: [...LOOKUP, 'update'] },
    { resourceType: 'Patient', interaction: LOOKUP },
    { resourceType: 'Organization', interaction: LOOKUP },
  ],
};

/** Bots that staff or apps call with `$execute`, never the router: left out of the router's Bot rule. */
export const STAFF_CALLED_BOTS: ReadonlySet<string> = new Set([BOT_NAME.paymentRequest]);

/** The bots of `names` the router may run (its targets): every one but itself and the staff-called ones. */
export function routerTargets(names: readonly string[]): string[] {
  return names.filter((name) => name !== BOT_NAME.router && !STAFF_CALLED_BOTS.has(name));
}

export const PAYMENT_REQUEST_CALLER_POLICY_NAME = policyName('request payments');

/**
 * For staff and apps allowed to request payments: run the payment-request bot (`$execute` reads the
 * Bot), and nothing else. Added to a membership's `access` list beside its own policy.
 */
export function paymentRequestCallerPolicy(paymentRequestBotId: string): AccessPolicy {
  return {
    resourceType: 'AccessPolicy',
    name: PAYMENT_REQUEST_CALLER_POLICY_NAME,
    resource: [{ resourceType: 'Bot', interaction: ['read'], criteria: `Bot?_id=${paymentRequestBotId}` }],
  };
}

/** The ClientApplication whose credentials Stripe's endpoint URL carries. */
export const WEBHOOK_CLIENT_NAME = 'stripe-medplum: Stripe webhook';

/** Setup finds its AccessPolicies by these names, so keep them stable. */
export function policyName(owner: string): string {
  return `stripe-medplum: ${owner}`;
}

export const WEBHOOK_POLICY_NAME = policyName('Stripe webhook');

export class UnknownBotPolicyError extends Error {}

export interface PolicyContext {
  /** Ids of the bots the router may run (its targets); without them the router's Bot rule is unnarrowed. */
  readonly targetBotIds?: readonly string[];
}

/** The AccessPolicy of one bot of medplum.config.json. */
export function botAccessPolicy(botName: string, context: PolicyContext = {}): AccessPolicy {
  const rules = BOT_ACCESS[botName];
  if (!rules) {
    throw new UnknownBotPolicyError(
      `bot "${botName}" of medplum.config.json has no access policy: add it to BOT_ACCESS in scripts/ops/access-policies.ts`
    );
  }
  const targets = [...(context.targetBotIds ?? [])].sort();
  return {
    resourceType: 'AccessPolicy',
    name: policyName(botName),
    resource: rules.map((rule) => ({
      resourceType: rule.resourceType,
      interaction: [...rule.interaction],
      ...(botName === BOT_NAME.router && rule.resourceType === 'Bot' && targets.length
        ? { criteria: `Bot?_id=${targets.join(',')}` }
        : {}),
    })),
  };
}

/** Stripe may only run the router: `Bot` read, of that one bot (its URL names the bot by id). */
export function webhookClientPolicy(routerBotId: string): AccessPolicy {
  return {
    resourceType: 'AccessPolicy',
    name: WEBHOOK_POLICY_NAME,
    resource: [{ resourceType: 'Bot', interaction: ['read'], criteria: `Bot?_id=${routerBotId}` }],
  };
}

/** A FHIR request as a client sent it: method, path below `fhir/R4/` (with its query), headers, body. */
export interface FhirRequestShape {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

export interface RequiredAccess {
  readonly resourceType: string;
  readonly interaction: Interaction;
  /** For an `$execute` by id: the Bot it runs. */
  readonly id?: string;
}

/**
 * The interactions a server checks for one request: a batch counts entry by entry; a conditional
 * create (`If-None-Exist`) or a conditional update also searches; `$execute` reads its Bot (and
 * searches for it when named by identifier); PATCH is an update.
 */
export function requiredAccess(request: FhirRequestShape): RequiredAccess[] {
  const method = request.method.toUpperCase();
  const [pathPart = '', query = ''] = request.path.replace(/^\/?(fhir\/R4\/?)?/, '').split('?', 2);
  const segments = pathPart.split('/').filter(Boolean);
  const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  if (segments.length === 0) {
    const bundle = (typeof request.body === 'string' ? JSON.parse(request.body) : request.body) as {
      entry?: { request?: { method?: string; url?: string; ifNoneExist?: string } }[];
    };
    if (method !== 'POST' || !bundle?.entry) {
      throw new Error(`unrecognised request ${method} ${request.path}`);
    }
    return bundle.entry.flatMap((entry) =>
      requiredAccess({
        method: entry.request?.method ?? 'GET',
        path: entry.request?.url ?? '',
        headers: entry.request?.ifNoneExist ? { 'if-none-exist': entry.request.ifNoneExist } : {},
      })
    );
  }
  const [resourceType = '', second, third] = segments;
  const access = (interaction: Interaction, id?: string): RequiredAccess => ({
    resourceType,
    interaction,
    ...(id && { id }),
  });
  if (second === '$execute' || third === '$execute') {
    return third ? [access('read', second)] : [access('search'), access('read')];
  }
  if (second === undefined) {
    switch (method) {
      case 'GET':
        return [access('search')];
      case 'POST':
        return headers['if-none-exist'] ? [access('search'), access('create')] : [access('create')];
      case 'PUT':
        return query ? [access('search'), access('update')] : [access('update')];
      case 'DELETE':
        return [access('search'), access('delete')];
    }
  } else if (second === '_search' && method === 'POST') {
    return [access('search')];
  } else if (third === undefined) {
    switch (method) {
      case 'GET':
        return [access('read', second)];
      case 'PUT':
      case 'PATCH':
        return [access('update', second)];
      case 'DELETE':
        return [access('delete', second)];
    }
  } else if (third === '_history' && method === 'GET') {
    return [access(segments[3] ? 'vread' : 'history', second)];
  }
  throw new Error(`unrecognised request ${method} ${request.path}`);
}
