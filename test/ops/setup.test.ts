import type { WithId } from '@medplum/core';
import type { AccessPolicy, Bot, ClientApplication, Organization, ProjectMembership } from '@medplum/fhirtypes';
import { setupServer } from 'msw/node';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readBotEntries } from '../../scripts/bot-config';
import { memoryLogger } from '../../scripts/ops/cli';
import { connectMedplum } from '../../scripts/ops/env';
import { routerTargets } from '../../scripts/ops/access-policies';
import { runSetup, type SetupOptions } from '../../scripts/ops/setup';
import { setupReport } from '../../scripts/ops/setup-report';
import { BOT_IDENTIFIER_SYSTEM, BOT_NAME } from '../../src/constants';
import { tempConfig } from './helpers';
import { MedplumFake, type MedplumFakeOptions } from './medplum-fake';

const msw = setupServer();
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterEach(() => msw.resetHandlers());
afterAll(() => msw.close());

const fakes: MedplumFake[] = [];
afterEach(() => {
  fakes.splice(0).forEach((f) => f.close());
});

async function fakeMedplum(options: MedplumFakeOptions = {}): Promise<MedplumFake> {
  const fake = await MedplumFake.create(options);
  fakes.push(fake);
  msw.use(...fake.handlers());
  return fake;
}

async function setup(fake: MedplumFake, options: SetupOptions & { configPath: string }) {
  const env = fake.env();
  const medplum = await connectMedplum(env);
  const log = memoryLogger();
  const result = await runSetup({ medplum, env, log }, options);
  return { result, log };
}

const STORED_SIGNING_SECRET = { name: 'STRIPE_WEBHOOK_SECRET', valueString: 'whsec_stored' };

/** docs/design.md "Access policies", written out: what each bot may do (write = search, read, create, update). */
const EXPECTED_ACCESS: Record<string, Record<string, string[]>> = {
  'stripe-router': { Communication: ['create', 'read', 'search', 'update'], Bot: ['read', 'search'] },
  'stripe-invoice': {
    Invoice: ['create', 'read', 'search', 'update'],
    Account: ['create', 'read', 'search', 'update'],
    Patient: ['read', 'search'],
    Organization: ['read', 'search'],
  },
  // A subscription's Account: write, and history (which tells the older of two Accounts to merge).
  'stripe-subscription-schedule': {
    Account: ['create', 'history', 'read', 'search', 'update'],
    Invoice: ['read', 'search', 'update'],
    Patient: ['read', 'search'],
    Organization: ['read', 'search'],
  },
  'stripe-subscription': {
    Account: ['create', 'history', 'read', 'search', 'update'],
    Invoice: ['read', 'search', 'update'],
    Patient: ['read', 'search'],
    Organization: ['read', 'search'],
  },
  'stripe-payment-intent': {
    PaymentNotice: ['create', 'read', 'search', 'update'],
    PaymentReconciliation: ['create', 'read', 'search', 'update'],
    Invoice: ['read', 'search'],
    Organization: ['read', 'search'],
    Account: ['create', 'read', 'search', 'update'],
    Patient: ['read', 'search'],
  },
  'stripe-customer': {
    Patient: ['read', 'search', 'update'],
    Account: ['create', 'read', 'search', 'update'],
    Invoice: ['create', 'read', 'search', 'update'],
    PaymentNotice: ['read', 'search', 'update'],
    PaymentReconciliation: ['read', 'search', 'update'],
  },
  'stripe-payment-request': {
    Patient: ['read', 'search', 'update'],
    Invoice: ['read', 'search'],
  },
};

async function membershipOf(fake: MedplumFake, profile: string): Promise<WithId<ProjectMembership>> {
  const memberships = (await fake.server.all<ProjectMembership>('ProjectMembership')).filter(
    (m) => m.profile?.reference === profile
  );
  expect(memberships, `one membership of ${profile}`).toHaveLength(1);
  return memberships[0] as WithId<ProjectMembership>;
}

async function policyOf(fake: MedplumFake, profile: string): Promise<AccessPolicy> {
  const membership = await membershipOf(fake, profile);
  const reference = membership.accessPolicy?.reference ?? '';
  expect(reference).toMatch(/^AccessPolicy\//);
  return fake.server.repo.readResource<AccessPolicy>('AccessPolicy', reference.slice('AccessPolicy/'.length));
}

function grants(policy: AccessPolicy): Record<string, string[]> {
  return Object.fromEntries((policy.resource ?? []).map((r) => [r.resourceType, [...(r.interaction ?? [])].sort()]));
}

describe('npm run setup against a Medplum project', () => {
  it('creates the bots, their policies and memberships, the webhook client, the payee and the secrets', async () => {
    const fake = await fakeMedplum();
    const configPath = tempConfig();
    const { result, log } = await setup(fake, { configPath, payeeName: 'Springfield Clinic', runtime: 'vmcontext' });

    const bots = await fake.server.all<Bot>('Bot');
    expect(bots.map((b) => b.name).sort()).toEqual(Object.keys(EXPECTED_ACCESS).sort());
    for (const bot of bots) {
      const name = bot.name as string;
      expect(result.botIds[name]).toBe(bot.id);
      expect(bot.identifier).toEqual([{ system: BOT_IDENTIFIER_SYSTEM, value: name }]);
      expect(bot.runtimeVersion).toBe('vmcontext');
      const policy = await policyOf(fake, `Bot/${bot.id}`);
      expect(grants(policy), name).toEqual(EXPECTED_ACCESS[name]);
      expect((await membershipOf(fake, `Bot/${bot.id}`)).admin).toBeFalsy();
    }
    // The router may run only its targets (not the payment-request bot, which staff call); Stripe's client
    // only the router, by id.
    const routerId = result.botIds['stripe-router'] as string;
    const targets = bots.filter((b) => b.id !== routerId && b.name !== BOT_NAME.paymentRequest).map((b) => b.id);
    const routerPolicy = await policyOf(fake, `Bot/${routerId}`);
    const criteria = routerPolicy.resource?.find((r) => r.resourceType === 'Bot')?.criteria ?? '';
    expect(criteria.replace('Bot?_id=', '').split(',').sort()).toEqual([...targets].sort());
    expect(routerPolicy.resource?.find((r) => r.resourceType === 'Communication')?.criteria).toBeUndefined();

    const clients = (await fake.server.all<ClientApplication>('ClientApplication')).filter(
      (c) => c.id !== fake.clientApp.id
    );
    expect(clients).toHaveLength(1);
    const webhookClient = clients[0] as WithId<ClientApplication>;
    expect(result.webhookClientId).toBe(webhookClient.id);
    const webhookPolicy = await policyOf(fake, `ClientApplication/${webhookClient.id}`);
    expect(webhookPolicy.resource).toEqual([
      { resourceType: 'Bot', interaction: ['read'], criteria: `Bot?_id=${routerId}` },
    ]);

    const organizations = await fake.server.all<Organization>('Organization');
    expect(organizations.map((o) => o.name)).toEqual(['Springfield Clinic']);
    expect(fake.secret('PAYEE_ORGANIZATION')?.valueString).toBe(`Organization/${organizations[0]?.id}`);
    expect(fake.secret('STRIPE_OPERATORS')?.valueString).toBe(fake.operator);
    expect(fake.secret('STRIPE_WEBHOOK_SECRET')).toBeUndefined();
    // A first run without STRIPE_SECRET_KEY: everything is done but the signing secret, which it says how to get.
    expect(result.unfinished).toEqual([expect.stringMatching(/no Stripe signing secret is stored.*--webhook-secret/s)]);
    expect(setupReport(result, { dryRun: false, showSecret: false }).exitCode).toBe(1);
    // AuditEvents: every run of the router and of the bot staff call (who asked for a payment), only
    // failures of the router's targets (the archive records every event).
    expect(Object.fromEntries(bots.map((b) => [b.name, b.auditEventTrigger]))).toEqual(
      Object.fromEntries(
        readBotEntries().map((e) => [
          e.name,
          e.name === BOT_NAME.router || e.name === BOT_NAME.paymentRequest ? 'always' : 'on-error',
        ])
      )
    );

    // medplum.config.json gets the ids, formatted as the repository keeps it.
    const text = readFileSync(configPath, 'utf8');
    const config = JSON.parse(text) as { bots: { name: string; id: string }[] };
    expect(text).toBe(`${JSON.stringify(config, null, 2)}\n`);
    expect(Object.fromEntries(config.bots.map((b) => [b.name, b.id]))).toEqual(result.botIds);

    expect(result.endpointUrl).toBe(
      `https://${webhookClient.id}:********@medplum.test/fhir/R4/Bot/${routerId}/$execute`
    );
    expect(log.lines.join('\n')).not.toContain(webhookClient.secret);
    expect(result.signatureMode).toBe('reserialized-json');
  });

  it('prints the client secret in the endpoint URL only with --show-secret', async () => {
    const fake = await fakeMedplum();
    const { result } = await setup(fake, { configPath: tempConfig(), payeeName: 'Clinic', showSecret: true });
    const client = await fake.server.repo.readResource<ClientApplication>('ClientApplication', result.webhookClientId);
    expect(result.endpointUrl).toBe(
      `https://${client.id}:${client.secret}@medplum.test/fhir/R4/Bot/${result.botIds['stripe-router']}/$execute`
    );
  });

  it('writes nothing on a second run with nothing changed', async () => {
    const fake = await fakeMedplum({ secrets: [STORED_SIGNING_SECRET] });
    const configPath = tempConfig();
    const first = await setup(fake, { configPath, payeeName: 'Springfield Clinic', runtime: 'awslambda' });
    expect(first.result.writes.length).toBeGreaterThan(10);
    const configAfterFirst = readFileSync(configPath, 'utf8');
    fake.calls.length = 0;

    const second = await setup(fake, { configPath, runtime: 'awslambda' });
    expect(second.result.writes).toEqual([]);
    expect(fake.writes()).toEqual([]);
    expect(readFileSync(configPath, 'utf8')).toBe(configAfterFirst);
    expect(second.result.botIds).toEqual(first.result.botIds);
    expect(second.result.endpointUrl).toBe(first.result.endpointUrl);
  });

  it('repairs what drifted: a widened policy, an admin bot membership, a renamed payee', async () => {
    const fake = await fakeMedplum({ secrets: [STORED_SIGNING_SECRET] });
    const configPath = tempConfig();
    const { result } = await setup(fake, { configPath, payeeName: 'Springfield Clinic' });
    const invoiceBot = `Bot/${result.botIds['stripe-invoice']}`;
    const policy = await policyOf(fake, invoiceBot);
    await fake.server.repo.updateResource<AccessPolicy>({ ...policy, resource: [{ resourceType: '*' }] });
    const membership = await membershipOf(fake, invoiceBot);
    await fake.server.repo.updateResource<ProjectMembership>({ ...membership, admin: true });
    fake.calls.length = 0;

    const second = await setup(fake, { configPath, payeeName: 'Springfield Family Clinic' });
    expect(second.result.writes).toHaveLength(3);
    expect(grants(await policyOf(fake, invoiceBot))).toEqual(EXPECTED_ACCESS['stripe-invoice']);
    expect((await membershipOf(fake, invoiceBot)).admin).toBeFalsy();
    expect((await fake.server.all<Organization>('Organization')).map((o) => o.name)).toEqual([
      'Springfield Family Clinic',
    ]);
  });

  it('keeps every project secret it does not manage, and the operators already listed', async () => {
    const fake = await fakeMedplum({
      secrets: [
        { name: 'OTHER_INTEGRATION_KEY', valueString: 'keep-me' },
        { name: 'STRIPE_OPERATORS', valueString: 'Practitioner/ops-1' },
        { name: 'FEATURE_FLAG', valueBoolean: true },
        { name: 'STRIPE_WEBHOOK_SECRET', valueString: 'whsec_existing' },
      ],
    });
    await setup(fake, { configPath: tempConfig(), payeeName: 'Clinic', livemode: false });
    expect(fake.project.secret).toEqual([
      { name: 'OTHER_INTEGRATION_KEY', valueString: 'keep-me' },
      { name: 'STRIPE_OPERATORS', valueString: `Practitioner/ops-1,${fake.operator}` },
      { name: 'FEATURE_FLAG', valueBoolean: true },
      { name: 'STRIPE_WEBHOOK_SECRET', valueString: 'whsec_existing' },
      { name: 'PAYEE_ORGANIZATION', valueString: expect.stringMatching(/^Organization\//) },
      { name: 'STRIPE_LIVEMODE', valueBoolean: false },
    ]);
  });

  it("stores the payment-request bot's key from --payment-request-key only, never from STRIPE_SECRET_KEY", async () => {
    const fake = await fakeMedplum({ secrets: [STORED_SIGNING_SECRET] });
    const configPath = tempConfig();
    const operatorKey = 'sk_live_operatorOwnKey';
    const previous = process.env.STRIPE_SECRET_KEY;
    process.env.STRIPE_SECRET_KEY = operatorKey;
    try {
      const first = await setup(fake, { configPath, payeeName: 'Clinic' });
      expect(fake.secret('STRIPE_SECRET_KEY')).toBeUndefined();
      expect(first.log.lines.join('\n')).toMatch(/stripe-payment-request bot has no Stripe key.*--payment-request-key/);

      const { result } = await setup(fake, { configPath, paymentRequestKey: 'rk_test_restricted123' });
      expect(fake.secret('STRIPE_SECRET_KEY')?.valueString).toBe('rk_test_restricted123');
      expect(JSON.stringify(fake.project.secret)).not.toContain(operatorKey);
      expect(result.warnings.filter((w) => /payment-request|secret key/.test(w))).toEqual([]);
    } finally {
      if (previous === undefined) {
        delete process.env.STRIPE_SECRET_KEY;
      } else {
        process.env.STRIPE_SECRET_KEY = previous;
      }
    }
    await expect(setup(fake, { configPath, paymentRequestKey: 'whsec_nope' })).rejects.toThrow(
      /restricted key \(rk_…\)/
    );
    const full = await setup(fake, { configPath, paymentRequestKey: 'sk_test_full' });
    expect(full.result.warnings.join('\n')).toMatch(/full secret key: a restricted key \(rk_…\)/);
  });

  it('creates the policy that lets staff run the payment-request bot, and only it', async () => {
    const fake = await fakeMedplum();
    const { result } = await setup(fake, { configPath: tempConfig(), payeeName: 'Clinic' });
    const policies = (await fake.server.all<AccessPolicy>('AccessPolicy')).filter(
      (p) => p.name === 'stripe-medplum: request payments'
    );
    expect(policies.map((p) => p.resource)).toEqual([
      [{ resourceType: 'Bot', interaction: ['read'], criteria: `Bot?_id=${result.botIds[BOT_NAME.paymentRequest]}` }],
    ]);
  });

  it('adds a pasted signing secret before the stored ones (rotation)', async () => {
    const fake = await fakeMedplum({ secrets: [{ name: 'STRIPE_WEBHOOK_SECRET', valueString: 'whsec_old' }] });
    const { result } = await setup(fake, { configPath: tempConfig(), payeeName: 'Clinic', webhookSecret: 'whsec_new' });
    expect(fake.secret('STRIPE_WEBHOOK_SECRET')?.valueString).toBe('whsec_new,whsec_old');
    expect(result.warnings).toEqual([]);
    await expect(setup(fake, { configPath: tempConfig(), webhookSecret: 'sk_test_oops' })).rejects.toThrow(/whsec_/);
  });

  it('gives the router Bot.rawBody where the server declares it, and no other bot', async () => {
    const fake = await fakeMedplum({ rawBody: true });
    const { result } = await setup(fake, { configPath: tempConfig(), payeeName: 'Clinic' });
    const bots = await fake.server.all<Bot & { rawBody?: boolean }>('Bot');
    expect(Object.fromEntries(bots.map((b) => [b.name, b.rawBody ?? false]))).toEqual(
      Object.fromEntries(readBotEntries().map((e) => [e.name, e.name === BOT_NAME.router]))
    );
    expect(result.signatureMode).toBe('raw-body');
  });

  it('leaves rawBody out where the server does not declare it, without trying', async () => {
    const fake = await fakeMedplum({ rawBody: false });
    const { result } = await setup(fake, { configPath: tempConfig(), payeeName: 'Clinic' });
    const bots = await fake.server.all<Bot & { rawBody?: boolean }>('Bot');
    expect(bots.filter((b) => b.rawBody !== undefined)).toEqual([]);
    expect(fake.calls.filter((c) => c.body?.includes('rawBody'))).toEqual([]);
    expect(fake.server.repo.rejected).toEqual([]);
    expect(result.signatureMode).toBe('reserialized-json');
  });

  it('retries without rawBody when a server it cannot ask refuses it ("Invalid additional property")', async () => {
    const fake = await fakeMedplum({ rawBody: false, hideDefinitions: true });
    const { result, log } = await setup(fake, { configPath: tempConfig(), payeeName: 'Clinic' });
    const refused = fake.server.repo.rejected.map((r) => r.error);
    expect(refused).toEqual([expect.stringContaining('Invalid additional property "rawBody"')]);
    const router = await fake.server.repo.readResource<Bot & { rawBody?: boolean }>(
      'Bot',
      result.botIds['stripe-router'] as string
    );
    expect(router.rawBody).toBeUndefined();
    expect(router.identifier).toEqual([{ system: BOT_IDENTIFIER_SYSTEM, value: 'stripe-router' }]);
    expect(result.signatureMode).toBe('reserialized-json');
    expect(log.lines.join('\n')).toMatch(/refused Bot\.rawBody/);
  });

  it('refuses the super-admin project before writing anything', async () => {
    const fake = await fakeMedplum({ superAdmin: true });
    const configPath = tempConfig();
    await expect(setup(fake, { configPath, payeeName: 'Clinic' })).rejects.toThrow(/super-admin/);
    expect(fake.writes()).toEqual([]);
    expect(await fake.server.all('Bot')).toEqual([]);
  });

  it('refuses a client that is not a project admin', async () => {
    const fake = await fakeMedplum({ admin: false });
    await expect(setup(fake, { configPath: tempConfig(), payeeName: 'Clinic' })).rejects.toThrow(/not an admin/);
    expect(fake.writes()).toEqual([]);
  });

  it('asks for --payee-name when the project has no payee yet, before writing anything', async () => {
    const fake = await fakeMedplum();
    await expect(setup(fake, { configPath: tempConfig() })).rejects.toThrow(/--payee-name/);
    expect(fake.writes()).toEqual([]);
  });

  it('writes nothing in a dry run, and says what it would do', async () => {
    const fake = await fakeMedplum();
    const configPath = tempConfig();
    const before = readFileSync(configPath, 'utf8');
    const { result, log } = await setup(fake, { configPath, payeeName: 'Clinic', dryRun: true });
    expect(fake.writes()).toEqual([]);
    expect(readFileSync(configPath, 'utf8')).toBe(before);
    expect(result.writes.length).toBeGreaterThan(10);
    expect(log.lines.filter((l) => l.startsWith('would create Bot'))).toHaveLength(readBotEntries().length);
  });

  it('adopts a bot already named by medplum.config.json and gives it the identifier', async () => {
    const fake = await fakeMedplum({ secrets: [STORED_SIGNING_SECRET] });
    const first = await setup(fake, { configPath: tempConfig(), payeeName: 'Clinic' });
    const invoiceId = first.result.botIds['stripe-invoice'] as string;
    const invoiceBot = await fake.server.repo.readResource<Bot>('Bot', invoiceId);
    await fake.server.repo.updateResource<Bot>({ ...invoiceBot, identifier: undefined });

    const second = await setup(fake, { configPath: tempConfig(first.result.botIds) });
    expect(second.result.botIds).toEqual(first.result.botIds);
    expect(second.result.writes).toEqual(['update Bot stripe-invoice (identifier)']);
    expect((await fake.server.all('Bot')).length).toBe(readBotEntries().length);
  });

  it('stops before writing anything when the project lacks the bots feature, and says who can add it', async () => {
    const fake = await fakeMedplum({ features: [] });
    const configPath = tempConfig();
    const before = readFileSync(configPath, 'utf8');
    await expect(setup(fake, { configPath, payeeName: 'Clinic' })).rejects.toThrow(
      /does not have the bots feature.*Bots not enabled.*super admin.*Medplum support.*Nothing was changed/s
    );
    expect(fake.writes()).toEqual([]);
    expect(await fake.server.all('Bot')).toEqual([]);
    expect(readFileSync(configPath, 'utf8')).toBe(before);
  });

  it('stops before writing anything on a later run when no signing secret is stored and it cannot get one', async () => {
    const fake = await fakeMedplum();
    const configPath = tempConfig();
    const first = await setup(fake, { configPath, payeeName: 'Clinic' });
    fake.calls.length = 0;
    const rejection = setup(fake, { configPath, runtime: 'awslambda' });
    await expect(rejection).rejects.toThrow(/no Stripe signing secret is stored/);
    await expect(rejection).rejects.toThrow(
      new RegExp(
        `Bot/${first.result.botIds['stripe-router']}/\\$execute.*--webhook-secret whsec_.*Nothing was changed`,
        's'
      )
    );
    expect(fake.writes()).toEqual([]);
    // With the secret pasted, the same run goes through.
    const { result } = await setup(fake, { configPath, runtime: 'awslambda', webhookSecret: 'whsec_pasted' });
    expect(result.unfinished).toEqual([]);
    expect(fake.secret('STRIPE_WEBHOOK_SECRET')?.valueString).toBe('whsec_pasted');
    expect(setupReport(result, { dryRun: false, showSecret: false })).toMatchObject({ exitCode: 0 });
  });

  it('dry-runs a fresh project without --payee-name: says what a real run needs, and a readable URL', async () => {
    const fake = await fakeMedplum();
    const { result } = await setup(fake, { configPath: tempConfig(), dryRun: true });
    expect(fake.writes()).toEqual([]);
    expect(result.unfinished).toEqual([
      expect.stringMatching(/--payee-name/),
      expect.stringMatching(/no Stripe signing secret/),
    ]);
    expect(result.endpointUrl).toBe(
      'https://<new-client-id>:********@medplum.test/fhir/R4/Bot/<new-stripe-router-id>/$execute'
    );
    const report = setupReport(result, { dryRun: true, showSecret: false });
    expect(report.exitCode).toBe(0);
    expect(report.lines).toContain('A real run needs first:');
    expect(report.lines.join('\n')).not.toMatch(/%3C/);
  });

  it('keeps AuditEvents of every target run with --audit-events always', async () => {
    const fake = await fakeMedplum({ secrets: [STORED_SIGNING_SECRET] });
    const configPath = tempConfig();
    await setup(fake, { configPath, payeeName: 'Clinic' });
    const { result } = await setup(fake, { configPath, auditEvents: 'always' });
    // One Bot update per router target; the router and the staff-called bot keep `always` anyway.
    expect(result.writes).toHaveLength(routerTargets(readBotEntries().map((e) => e.name)).length);
    const bots = await fake.server.all<Bot>('Bot');
    expect(bots.every((b) => b.auditEventTrigger === 'always')).toBe(true);
  });

  it('says the client id or secret is wrong when the login answers 400, as Medplum does', async () => {
    const fake = await fakeMedplum();
    await expect(connectMedplum({ ...fake.env(), clientSecret: 'not-the-secret' })).rejects.toThrow(
      /could not log in .*: 400 .*The client id or secret is wrong/
    );
  });
});
