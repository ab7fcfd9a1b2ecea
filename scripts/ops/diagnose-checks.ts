/**
 * The pure half of `npm run diagnose`: each check turns what was read from the server (and Stripe)
 * into one verdict with a cure. Nothing here does I/O.
 */
import type { AccessPolicy, Bot, ProjectMembership, ProjectSetting } from '@medplum/fhirtypes';
import { SECRET_NAME } from '../../src/config';
import { RUNTIMES, samePolicy, secretValue, WEBHOOK_API_VERSION, type EndpointState, type Runtime } from './setup-plan';

export type Level = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  readonly name: string;
  readonly level: Level;
  readonly detail: string;
  /** What to do about it (warn and fail). */
  readonly cure?: string;
}

const ok = (name: string, detail: string): Check => ({ name, level: 'ok', detail });
const warn = (name: string, detail: string, cure: string): Check => ({ name, level: 'warn', detail, cure });
const fail = (name: string, detail: string, cure: string): Check => ({ name, level: 'fail', detail, cure });
export const skip = (name: string, detail: string): Check => ({ name, level: 'skip', detail });

const SETUP = 'run `npm run setup` (idempotent: it puts back what setup manages)';

export function serverCheck(health: { version?: string; error?: string }, baseUrl: string): Check {
  if (health.error !== undefined) {
    return fail(
      'server',
      `${baseUrl} did not answer GET healthcheck: ${health.error}`,
      'check MEDPLUM_BASE_URL (the server root, e.g. https://api.medplum.com/) and that the server is up'
    );
  }
  return ok('server', `${baseUrl} answers, Medplum ${health.version ?? '(version not reported)'}`);
}

export function loginCheck(error: string | undefined, clientId: string): Check {
  return error === undefined
    ? ok('login', `logged in as ClientApplication ${clientId}`)
    : fail(
        'login',
        error,
        'set MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET to a ClientApplication admin of the project (docs/deploy.md)'
      );
}

export interface ProjectFacts {
  readonly id: string;
  readonly name?: string;
  readonly superAdmin?: boolean;
  readonly admin?: boolean;
  readonly features?: readonly string[];
}

export function projectCheck(project: ProjectFacts): Check {
  const label = `project "${project.name ?? project.id}"`;
  if (project.superAdmin) {
    return fail(
      'project',
      `${label} is the super-admin project, where every membership bypasses access policies`,
      'create a project of its own for the clinic with an admin ClientApplication, and run setup there (docs/deploy.md)'
    );
  }
  if (!project.admin) {
    return fail(
      'project',
      `this login is not an admin of ${label}, so secrets, memberships and policies cannot be read`,
      'tick Admin on the membership of this ClientApplication (Admin → Project → Clients)'
    );
  }
  return ok('project', `${label} (${project.id}), not super admin, this login is admin`);
}

export function botsFeatureCheck(features: readonly string[] | undefined): Check {
  return features?.includes('bots')
    ? ok('bots feature', 'Project.features contains "bots"')
    : fail(
        'bots feature',
        `Project.features is [${(features ?? []).join(', ')}]: without "bots" the server runs no bot`,
        'ask a super admin to add "bots" to the project\'s features (Medplum app → Projects → the project → Features)'
      );
}

export function botCheck(name: string, bot: Bot | undefined, configId: string): Check {
  const label = `bot ${name}`;
  if (!bot) {
    return fail(label, `no Bot with identifier urn:stripe-medplum:bot|${name}`, SETUP);
  }
  if (configId && configId !== bot.id) {
    return fail(
      label,
      `medplum.config.json names Bot/${configId}, but the bot of that identifier is Bot/${bot.id}`,
      `${SETUP}; it writes the ids into medplum.config.json`
    );
  }
  if (!configId) {
    return fail(label, `Bot/${bot.id} exists but medplum.config.json has no id for it`, SETUP);
  }
  return ok(label, `Bot/${bot.id}`);
}

export function runtimeCheck(name: string, bot: Bot | undefined, expected: Runtime | undefined): Check {
  const label = `runtime ${name}`;
  if (!bot) {
    return skip(label, 'no bot');
  }
  const runtime = bot.runtimeVersion;
  if (!runtime || !(RUNTIMES as readonly string[]).includes(runtime)) {
    return fail(
      label,
      `runtimeVersion is ${runtime ?? 'unset'}`,
      `run \`npm run setup -- --runtime ${expected ?? 'vmcontext'}\` (or awslambda on a server with AWS Lambda)`
    );
  }
  if (expected && runtime !== expected) {
    return fail(
      label,
      `runtimeVersion is ${runtime}, not ${expected}`,
      `run \`npm run setup -- --runtime ${expected}\``
    );
  }
  return ok(label, runtime);
}

export function codeCheck(
  name: string,
  facts: { readonly deployed?: string; readonly deployedError?: string; readonly local?: string; readonly dist: string }
): Check {
  const label = `code ${name}`;
  const deploy = `run \`npm run deploy -- ${name}\` (it builds and deploys)`;
  if (facts.deployedError !== undefined) {
    return fail(label, facts.deployedError, deploy);
  }
  if (facts.local === undefined) {
    return warn(
      label,
      `${facts.dist} is not built, so the deployed code cannot be compared`,
      'run `npm run build`, then diagnose again'
    );
  }
  if (facts.deployed !== facts.local) {
    return fail(
      label,
      `the deployed code (sha256 ${short(facts.deployed)}) is not ${facts.dist} (sha256 ${short(facts.local)})`,
      deploy
    );
  }
  return ok(label, `deployed code equals ${facts.dist} (sha256 ${short(facts.local)})`);
}

function short(hash: string | undefined): string {
  return hash ? hash.slice(0, 12) : 'none';
}

export interface MembershipFacts {
  readonly membership?: ProjectMembership;
  readonly policy?: AccessPolicy;
}

/** A membership that uses exactly `desired`, and nothing that adds rights. */
export function policyCheck(label: string, facts: MembershipFacts, desired: AccessPolicy): Check {
  const { membership, policy } = facts;
  if (!membership) {
    return fail(label, 'no ProjectMembership, so it cannot run', SETUP);
  }
  if (membership.admin) {
    return fail(label, 'its membership is admin, which bypasses the access policy', SETUP);
  }
  if (!policy) {
    return fail(
      label,
      `its membership has no AccessPolicy${membership.accessPolicy?.reference ? ` (${membership.accessPolicy.reference} is gone)` : ''}`,
      SETUP
    );
  }
  if (!samePolicy(policy, desired)) {
    return fail(label, `AccessPolicy/${policy.id} (${policy.name}) grants other rights than setup writes`, SETUP);
  }
  if (membership.access?.length) {
    return warn(
      label,
      `its membership also has ${membership.access.length} \`access\` policies, which add rights`,
      SETUP
    );
  }
  return ok(label, `AccessPolicy/${policy.id} as setup writes it`);
}

const REFERENCE = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/;

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function secretChecks(
  secrets: readonly ProjectSetting[],
  facts: { readonly payeeExists?: boolean; readonly identity: string }
): Check[] {
  const checks: Check[] = [];
  const webhook = list(secretValue(secrets, SECRET_NAME.webhookSecret));
  const webhookName = `secret ${SECRET_NAME.webhookSecret}`;
  if (webhook.length === 0) {
    checks.push(
      fail(
        webhookName,
        'not set: the router rejects every Stripe delivery',
        'reveal or roll the endpoint signing secret in the Stripe Dashboard, then `npm run setup -- --webhook-secret whsec_…`'
      )
    );
  } else if (webhook.some((s) => !/^whsec_\S+$/.test(s))) {
    checks.push(
      fail(
        webhookName,
        `${webhook.filter((s) => !/^whsec_\S+$/.test(s)).length} of ${webhook.length} value(s) are not whsec_… signing secrets`,
        'store the endpoint signing secret: `npm run setup -- --webhook-secret whsec_…`'
      )
    );
  } else {
    checks.push(ok(webhookName, `${webhook.length} whsec_… secret(s)`));
  }

  const payee = secretValue(secrets, SECRET_NAME.payee);
  const payeeName = `secret ${SECRET_NAME.payee}`;
  if (!payee || !/^Organization\/[A-Za-z0-9\-.]{1,64}$/.test(payee)) {
    checks.push(fail(payeeName, payee ? `"${payee}" is not Organization/<id>` : 'not set', SETUP));
  } else if (facts.payeeExists === false) {
    checks.push(fail(payeeName, `${payee} does not exist`, SETUP));
  } else {
    checks.push(ok(payeeName, `${payee} exists`));
  }

  const operators = list(secretValue(secrets, SECRET_NAME.operators));
  const operatorsName = `secret ${SECRET_NAME.operators}`;
  const bad = operators.filter((o) => !REFERENCE.test(o));
  if (bad.length) {
    checks.push(
      fail(
        operatorsName,
        `not references: ${bad.join(', ')}`,
        'fix the secret to Type/id references, or run `npm run setup`'
      )
    );
  } else if (!operators.includes(facts.identity)) {
    checks.push(
      warn(
        operatorsName,
        `${facts.identity} (this login) is not listed: its replay, backfill and reconcile --fix are refused`,
        'run `npm run setup` with this client, which adds it'
      )
    );
  } else {
    checks.push(ok(operatorsName, `${operators.length} operator(s), this login included`));
  }

  const livemode = secrets.find((s) => s.name === SECRET_NAME.livemode);
  const livemodeName = `secret ${SECRET_NAME.livemode}`;
  const text = livemode?.valueString?.trim().toLowerCase();
  if (
    livemode &&
    livemode.valueBoolean === undefined &&
    text !== undefined &&
    text !== '' &&
    text !== 'true' &&
    text !== 'false'
  ) {
    checks.push(
      fail(
        livemodeName,
        `"${livemode.valueString}" is not true or false: every event fails`,
        'run `npm run setup -- --livemode true` (or false)'
      )
    );
  } else {
    checks.push(
      ok(
        livemodeName,
        livemodeValue(secrets) === undefined ? 'unset (both modes accepted)' : String(livemodeValue(secrets))
      )
    );
  }
  return checks;
}

export function livemodeValue(secrets: readonly ProjectSetting[]): boolean | undefined {
  const setting = secrets.find((s) => s.name === SECRET_NAME.livemode);
  if (setting?.valueBoolean !== undefined) {
    return setting.valueBoolean;
  }
  const text = setting?.valueString?.trim().toLowerCase();
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

/**
 * Live mode is what the signs say: a live Stripe key, a live endpoint, or a live event in the
 * archive. Unset STRIPE_LIVEMODE on a live project lets a test-mode event (anyone with the test
 * key can send one) claim a real Patient.
 */
export function livemodeCheck(
  livemode: boolean | undefined,
  liveSigns: readonly string[],
  testSigns: readonly string[]
): Check {
  const name = 'live mode';
  if (livemode === undefined && liveSigns.length) {
    return warn(
      name,
      `STRIPE_LIVEMODE is unset on a live project (${liveSigns.join('; ')}): test-mode events could claim real Patients`,
      'run `npm run setup -- --livemode true`'
    );
  }
  if (livemode === false && liveSigns.length) {
    return warn(
      name,
      `STRIPE_LIVEMODE is false, but ${liveSigns.join('; ')}: live events are ignored`,
      'run `npm run setup -- --livemode true` if this project is live'
    );
  }
  if (livemode === true && testSigns.length && !liveSigns.length) {
    return warn(
      name,
      `STRIPE_LIVEMODE is true, but ${testSigns.join('; ')}: test events are ignored`,
      'run `npm run setup -- --livemode false` if this project is for tests'
    );
  }
  return ok(
    name,
    livemode === undefined ? 'no sign of live mode; STRIPE_LIVEMODE unset' : `STRIPE_LIVEMODE ${livemode}`
  );
}

export interface ArchiveFacts {
  readonly stopped: { readonly count: number; readonly oldest?: string; readonly ids: readonly string[] };
  readonly stuck: { readonly count: number; readonly oldest?: string; readonly ids: readonly string[] };
  readonly timeoutSeconds: number;
}

export function archiveChecks(facts: ArchiveFacts): Check[] {
  const { stopped, stuck } = facts;
  return [
    stopped.count
      ? fail(
          'archives stopped',
          `${stopped.count} event(s) failed (Communication status stopped), oldest sent ${stopped.oldest ?? '?'}: ${stopped.ids.join(', ')}`,
          'read the reason on each archive (statusReason), fix its cause, then `npm run replay -- --failed-only`'
        )
      : ok('archives stopped', 'no failed event'),
    stuck.count
      ? fail(
          'archives in progress',
          `${stuck.count} event(s) in progress for longer than the bot timeout (${facts.timeoutSeconds} s), oldest sent ${stuck.oldest ?? '?'}: ${stuck.ids.join(', ')}`,
          `the router died mid-event: \`npm run replay -- ${stuck.ids.map((id) => `--event ${id}`).join(' ')}\``
        )
      : ok('archives in progress', `none older than the bot timeout (${facts.timeoutSeconds} s)`),
  ];
}

/** `host/path` of a URL, without credentials or query. */
function hostAndPath(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return undefined;
  }
}

export function stripeEndpointChecks(
  endpoint: EndpointState | undefined,
  expected: { readonly url: string; readonly clientId?: string; readonly eventTypes: readonly string[] }
): Check[] {
  const cure = 'run `npm run setup` with STRIPE_SECRET_KEY (it creates or updates the endpoint)';
  if (!endpoint) {
    return [
      fail(
        'stripe endpoint',
        `no Stripe webhook endpoint posts to ${hostAndPath(expected.url)} or is tagged with this project`,
        cure
      ),
      skip('stripe events', 'no endpoint'),
      skip('stripe api version', 'no endpoint'),
    ];
  }
  const checks: Check[] = [];
  const username = (() => {
    try {
      return decodeURIComponent(new URL(endpoint.url).username);
    } catch {
      return '';
    }
  })();
  if (hostAndPath(endpoint.url) !== hostAndPath(expected.url)) {
    checks.push(
      fail(
        'stripe endpoint',
        `${endpoint.id} posts to ${hostAndPath(endpoint.url)}, not the router (${hostAndPath(expected.url)})`,
        cure
      )
    );
  } else if (expected.clientId && username !== expected.clientId) {
    checks.push(
      fail(
        'stripe endpoint',
        `${endpoint.id} authenticates as ${username || 'nobody'}, not the webhook client ${expected.clientId}`,
        cure
      )
    );
  } else if (endpoint.status === 'disabled') {
    checks.push(fail('stripe endpoint', `${endpoint.id} is disabled: Stripe sends nothing`, cure));
  } else {
    checks.push(ok('stripe endpoint', `${endpoint.id} posts to the router (${hostAndPath(endpoint.url)})`));
  }
  const enabled = new Set(endpoint.enabled_events);
  const wanted = new Set(expected.eventTypes);
  const missing = [...wanted].filter((t) => !enabled.has(t));
  const extra = [...enabled].filter((t) => !wanted.has(t));
  checks.push(
    missing.length || extra.length
      ? fail(
          'stripe events',
          [missing.length && `missing ${missing.join(', ')}`, extra.length && `not routed ${extra.join(', ')}`]
            .filter(Boolean)
            .join('; '),
          cure
        )
      : ok('stripe events', `exactly the ${wanted.size} routed event types`)
  );
  checks.push(
    endpoint.api_version === WEBHOOK_API_VERSION
      ? ok('stripe api version', WEBHOOK_API_VERSION)
      : warn(
          'stripe api version',
          `${endpoint.id} sends API version ${endpoint.api_version ?? "(the account's default)"}, not ${WEBHOOK_API_VERSION} as setup pins it`,
          "Stripe cannot change an endpoint's version: delete the endpoint in the Dashboard and run `npm run setup` with STRIPE_SECRET_KEY (it creates one and stores its secret)"
        )
  );
  return checks;
}

/** Exit code: 0 only when no check warns or fails. */
export function exitCode(checks: readonly Check[]): number {
  return checks.some((c) => c.level === 'warn' || c.level === 'fail') ? 1 : 0;
}

const MARK: Record<Level, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** One line per check: level, name, detail, and the cure when there is one. */
export function checkLines(checks: readonly Check[]): string[] {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.map(
    (c) => `${MARK[c.level]}  ${c.name.padEnd(width)}  ${c.detail}${c.cure ? ` — cure: ${c.cure}` : ''}`
  );
  const count = (level: Level) => checks.filter((c) => c.level === level).length;
  lines.push(
    `diagnose: ${count('ok')} ok, ${count('warn')} warning(s), ${count('fail')} failure(s), ${count('skip')} skipped`
  );
  return lines;
}

/** The `--json` form, for monitoring: every check with name, status, detail and cure. */
export function checksJson(checks: readonly Check[]): string {
  return JSON.stringify(
    {
      ok: exitCode(checks) === 0,
      checks: checks.map((c) => ({ name: c.name, status: c.level, detail: c.detail, ...(c.cure && { cure: c.cure }) })),
    },
    null,
    2
  );
}
