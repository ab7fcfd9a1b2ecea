import type { AccessPolicy, Bot, ClientApplication, Communication, ProjectMembership } from '@medplum/fhirtypes';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../scripts/ops/cli';
import { readConfigBots } from '../../scripts/ops/config-file';
import { checkLines, checksJson, exitCode, type Check } from '../../scripts/ops/diagnose-checks';
import { runDiagnose, type DiagnoseOptions } from '../../scripts/ops/diagnose';
import { connectMedplum, createStripe, type MedplumEnv } from '../../scripts/ops/env';
import { runSetup } from '../../scripts/ops/setup';
import { WEBHOOK_CLIENT_NAME } from '../../scripts/ops/access-policies';
import { buildArchive } from '../../src/router/archive';
import { tempConfig } from './helpers';
import { BASE_URL, MedplumFake } from './medplum-fake';
import { StripeFake } from './stripe-fake';

const msw = setupServer();
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterEach(() => msw.resetHandlers());
afterAll(() => msw.close());

interface Deployed {
  readonly fake: MedplumFake;
  readonly stripe: StripeFake;
  readonly configPath: string;
  readonly botIds: Readonly<Record<string, string>>;
  env: MedplumEnv;
  options: DiagnoseOptions;
  withStripe: boolean;
}

/**
 * A project as setup and deploy leave it: setup (vmcontext, STRIPE_LIVEMODE false, the Stripe
 * endpoint), then each bot's bundle built into a private dist folder and deployed through
 * `Bot/$deploy` as the Medplum CLI posts it.
 */
async function deployedProject(): Promise<Deployed> {
  const fake = await MedplumFake.create();
  const stripe = new StripeFake();
  msw.use(...fake.handlers(), ...stripe.handlers());
  const configPath = tempConfig();
  const env = fake.env();
  const medplum = await connectMedplum(env);
  const { botIds } = await runSetup(
    { medplum, env, log: memoryLogger(), stripe: createStripe('sk_test_fake') },
    { configPath, payeeName: 'Springfield Clinic', runtime: 'vmcontext', livemode: false }
  );
  for (const bot of readConfigBots(configPath)) {
    const dist = resolve(dirname(configPath), bot.dist);
    const code = `"use strict";\n// ${bot.name} bundle\nObject.assign(exports, module.exports);\n`;
    mkdirSync(dirname(dist), { recursive: true });
    writeFileSync(dist, code);
    await medplum.post(medplum.fhirUrl('Bot', bot.id, '$deploy'), { code, filename: basename(bot.dist) });
  }
  return { fake, stripe, configPath, botIds, env, options: { configPath }, withStripe: true };
}

async function diagnose(p: Deployed): Promise<Check[]> {
  return runDiagnose(
    { env: p.env, ...(p.withStripe && { stripe: createStripe('sk_test_fake'), stripeKey: 'sk_test_fake' }) },
    p.options
  );
}

const notOk = (checks: readonly Check[]) => checks.filter((c) => c.level === 'warn' || c.level === 'fail');

async function membershipPolicy(fake: MedplumFake, profile: string): Promise<AccessPolicy> {
  const membership = (await fake.server.all<ProjectMembership>('ProjectMembership')).find(
    (m) => m.profile?.reference === profile
  );
  const id = membership?.accessPolicy?.reference?.split('/')[1] as string;
  return fake.server.repo.readResource<AccessPolicy>('AccessPolicy', id);
}

function setSecret(fake: MedplumFake, name: string, value: string | undefined): void {
  const rest = fake.project.secret.filter((s) => s.name !== name);
  fake.project.secret.splice(
    0,
    fake.project.secret.length,
    ...rest,
    ...(value === undefined ? [] : [{ name, valueString: value }])
  );
}

async function archive(
  fake: MedplumFake,
  id: string,
  status: 'stopped' | 'in-progress',
  livemode = false
): Promise<void> {
  const event = {
    id,
    object: 'event',
    type: 'invoice.paid',
    created: 1_760_000_000,
    livemode,
    data: { object: { object: 'invoice' } },
  };
  const stored = buildArchive(event, JSON.stringify(event), { status: 'completed', resources: [] });
  await fake.server.seed<Communication>({
    ...stored,
    status,
    ...(status === 'stopped' && { statusReason: { text: 'stripe-invoice failed: 400 Invalid Stripe event' } }),
  });
}

describe('npm run diagnose', () => {
  it('finds nothing wrong with a project as setup and deploy leave it (exit 0)', async () => {
    const p = await deployedProject();
    const checks = await diagnose(p);
    expect(notOk(checks)).toEqual([]);
    expect(exitCode(checks)).toBe(0);
    const names = checks.map((c) => c.name);
    for (const bot of ['stripe-router', 'stripe-invoice', 'stripe-subscription-schedule', 'stripe-payment-intent']) {
      for (const kind of ['bot', 'runtime', 'code', 'policy']) {
        expect(checks.find((c) => c.name === `${kind} ${bot}`)?.level, `${kind} ${bot}`).toBe('ok');
      }
    }
    expect(names).toEqual(
      expect.arrayContaining([
        'server',
        'login',
        'project',
        'bots feature',
        'secret STRIPE_WEBHOOK_SECRET',
        'secret PAYEE_ORGANIZATION',
        'secret STRIPE_OPERATORS',
        'secret STRIPE_LIVEMODE',
        'webhook client',
        'archives stopped',
        'archives in progress',
        'live mode',
        'stripe endpoint',
        'stripe events',
        'stripe api version',
      ])
    );
    expect(checks.find((c) => c.name === 'server')?.detail).toContain('Medplum 4.5.2');
    expect(checkLines(checks).at(-1)).toMatch(/^diagnose: \d+ ok, 0 warning\(s\), 0 failure\(s\), 0 skipped$/);
  });

  it('skips the Stripe checks without STRIPE_SECRET_KEY', async () => {
    const p = await deployedProject();
    p.withStripe = false;
    const checks = await diagnose(p);
    expect(exitCode(checks)).toBe(0);
    expect(checks.find((c) => c.name === 'stripe endpoint')).toMatchObject({ level: 'skip' });
  });

  const BROKEN: {
    readonly check: string;
    readonly level?: 'warn' | 'fail';
    readonly cure: RegExp;
    /** Other checks that the same break rightly trips. */
    readonly also?: readonly string[];
    readonly breakIt: (p: Deployed) => Promise<void> | void;
  }[] = [
    {
      check: 'server',
      cure: /MEDPLUM_BASE_URL/,
      breakIt: (p) => {
        p.fake.health = { status: 503, body: {} };
      },
    },
    {
      check: 'login',
      cure: /MEDPLUM_CLIENT_SECRET/,
      breakIt: (p) => {
        p.env = { ...p.env, clientSecret: 'wrong' };
      },
    },
    {
      check: 'project',
      cure: /project of its own/,
      breakIt: (p) => {
        p.fake.project.superAdmin = true;
      },
    },
    {
      check: 'bots feature',
      cure: /add "bots"/,
      breakIt: (p) => {
        p.fake.project.features.length = 0;
      },
    },
    {
      check: 'bot stripe-invoice',
      cure: /npm run setup/,
      // Without the bot, the router's policy no longer matches the bots it may run.
      also: ['policy stripe-router'],
      breakIt: async (p) => {
        await p.fake.server.repo.deleteResource('Bot', p.botIds['stripe-invoice'] as string);
      },
    },
    {
      check: 'runtime stripe-invoice',
      cure: /npm run setup -- --runtime vmcontext/,
      breakIt: async (p) => {
        const bot = await p.fake.server.repo.readResource<Bot>('Bot', p.botIds['stripe-invoice'] as string);
        await p.fake.server.repo.updateResource<Bot>({ ...bot, runtimeVersion: 'awslambda' });
        p.options = { ...p.options, runtime: 'vmcontext' };
      },
    },
    {
      check: 'code stripe-payment-intent',
      cure: /npm run deploy -- stripe-payment-intent/,
      breakIt: (p) => {
        const entry = readConfigBots(p.configPath).find((b) => b.name === 'stripe-payment-intent');
        writeFileSync(resolve(dirname(p.configPath), entry?.dist as string), '// built again, not deployed\n');
      },
    },
    {
      check: 'policy stripe-invoice',
      cure: /npm run setup/,
      breakIt: async (p) => {
        const policy = await membershipPolicy(p.fake, `Bot/${p.botIds['stripe-invoice']}`);
        await p.fake.server.repo.updateResource<AccessPolicy>({
          ...policy,
          resource: [...(policy.resource ?? []), { resourceType: 'Patient', interaction: ['update'] }],
        });
      },
    },
    {
      check: 'secret STRIPE_WEBHOOK_SECRET',
      cure: /--webhook-secret whsec_/,
      breakIt: (p) => setSecret(p.fake, 'STRIPE_WEBHOOK_SECRET', 'not-a-signing-secret'),
    },
    {
      check: 'secret PAYEE_ORGANIZATION',
      cure: /npm run setup/,
      breakIt: (p) => setSecret(p.fake, 'PAYEE_ORGANIZATION', 'Organization/gone'),
    },
    {
      check: 'secret STRIPE_OPERATORS',
      level: 'warn',
      cure: /npm run setup` with this client/,
      breakIt: (p) => setSecret(p.fake, 'STRIPE_OPERATORS', 'Practitioner/someone-else'),
    },
    {
      check: 'secret STRIPE_LIVEMODE',
      cure: /--livemode true/,
      breakIt: (p) => setSecret(p.fake, 'STRIPE_LIVEMODE', 'yes'),
    },
    {
      check: 'webhook client',
      cure: /npm run setup/,
      breakIt: async (p) => {
        const client = (await p.fake.server.all<ClientApplication>('ClientApplication')).find(
          (c) => c.name === WEBHOOK_CLIENT_NAME
        );
        const policy = await membershipPolicy(p.fake, `ClientApplication/${client?.id}`);
        await p.fake.server.repo.updateResource<AccessPolicy>({
          ...policy,
          resource: [{ resourceType: 'Bot', interaction: ['read'], criteria: `Bot?_id=${p.botIds['stripe-invoice']}` }],
        });
      },
    },
    {
      check: 'archives stopped',
      cure: /npm run replay -- --failed-only/,
      breakIt: () => undefined,
    },
    {
      check: 'archives in progress',
      cure: /npm run replay -- --event evt_1Stuck/,
      breakIt: (p) => {
        p.options = { ...p.options, now: Date.now() + 60_000 };
      },
    },
    {
      check: 'live mode',
      level: 'warn',
      cure: /npm run setup -- --livemode true/,
      breakIt: (p) => setSecret(p.fake, 'STRIPE_LIVEMODE', undefined),
    },
    {
      check: 'stripe endpoint',
      cure: /npm run setup` with STRIPE_SECRET_KEY/,
      breakIt: (p) => {
        const endpoint = p.stripe.endpoints[0] as { url: string };
        endpoint.url = endpoint.url.replace(/Bot\/[^/]+\//, `Bot/${p.botIds['stripe-invoice']}/`);
      },
    },
    {
      check: 'stripe events',
      cure: /npm run setup` with STRIPE_SECRET_KEY/,
      breakIt: (p) => {
        const endpoint = p.stripe.endpoints[0] as { enabled_events: string[] };
        endpoint.enabled_events = endpoint.enabled_events
          .filter((t) => t !== 'invoice.paid')
          .concat('charge.succeeded');
      },
    },
    {
      check: 'stripe api version',
      level: 'warn',
      cure: /delete the endpoint in the Dashboard/,
      breakIt: (p) => {
        (p.stripe.endpoints[0] as { api_version: string }).api_version = '2024-06-20';
      },
    },
  ];

  for (const broken of BROKEN) {
    it(`names "${broken.check}" and its cure when it is broken (exit 1)`, async () => {
      const p = await deployedProject();
      if (broken.check === 'archives stopped') {
        await archive(p.fake, 'evt_1Failed', 'stopped');
      }
      if (broken.check === 'archives in progress') {
        await archive(p.fake, 'evt_1Stuck', 'in-progress');
      }
      if (broken.check === 'live mode') {
        await archive(p.fake, 'evt_1Live', 'in-progress', true);
        p.options = { ...p.options, now: Date.now() - 60_000 };
      }
      await broken.breakIt(p);
      const checks = await diagnose(p);
      const found = checks.find((c) => c.name === broken.check);
      expect(found, checkLines(checks).join('\n')).toMatchObject({
        level: broken.level ?? 'fail',
        cure: expect.stringMatching(broken.cure),
      });
      expect(
        notOk(checks)
          .map((c) => c.name)
          .sort()
      ).toEqual([broken.check, ...(broken.also ?? [])].sort());
      expect(exitCode(checks)).toBe(1);
      expect(checkLines(checks).find((l) => l.includes(`  ${broken.check} `))).toMatch(/^(FAIL|WARN) .* — cure: /);
    });
  }

  it('probes the router when Project.features cannot be read', async () => {
    const p = await deployedProject();
    p.fake.featuresVisible = false;
    const probes: string[] = [];
    const answer = (text: string) =>
      http.post(`${BASE_URL}fhir/R4/Bot/:id/$execute`, async ({ request, params }) => {
        probes.push(`${String(params.id)} ${await request.text()}`);
        return HttpResponse.json(
          { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', details: { text } }] },
          { status: 400 }
        );
      });
    msw.use(answer('Bots not enabled'));
    const disabled = await diagnose(p);
    expect(disabled.find((c) => c.name === 'bots feature')).toMatchObject({
      level: 'fail',
      cure: expect.stringMatching(/add "bots"/),
    });
    // One probe, of the router, with an empty body (which the router refuses before archiving anything).
    expect(probes).toEqual([`${p.botIds['stripe-router']} {}`]);

    msw.use(answer('Invalid Stripe event: the event has no id'));
    const enabled = await diagnose(p);
    expect(enabled.find((c) => c.name === 'bots feature')).toMatchObject({
      level: 'ok',
      detail: expect.stringContaining('the router runs'),
    });
    expect(exitCode(enabled)).toBe(0);
  });

  it('turns a part that cannot be read into its failed check, and checks the rest', async () => {
    const p = await deployedProject();
    msw.use(
      http.get(`${BASE_URL}fhir/R4/Communication`, () =>
        HttpResponse.json(
          {
            resourceType: 'OperationOutcome',
            id: 'forbidden',
            issue: [{ severity: 'error', code: 'forbidden', details: { text: 'Forbidden' } }],
          },
          { status: 403 }
        )
      )
    );
    const checks = await diagnose(p);
    expect(notOk(checks).map((c) => c.name)).toEqual(['archives', 'live mode']);
    expect(checks.find((c) => c.name === 'archives')).toMatchObject({
      level: 'fail',
      detail: expect.stringContaining('403'),
      cure: expect.stringContaining('project admin'),
    });
    expect(checks.find((c) => c.name === 'stripe endpoint')?.level).toBe('ok');
  });

  it('--json lists every check with name, status, detail and cure', async () => {
    const p = await deployedProject();
    setSecret(p.fake, 'STRIPE_WEBHOOK_SECRET', undefined);
    const checks = await diagnose(p);
    const json = JSON.parse(checksJson(checks)) as {
      ok: boolean;
      checks: { name: string; status: string; detail: string; cure?: string }[];
    };
    expect(json.ok).toBe(false);
    expect(json.checks).toHaveLength(checks.length);
    expect(json.checks.find((c) => c.name === 'secret STRIPE_WEBHOOK_SECRET')).toEqual({
      name: 'secret STRIPE_WEBHOOK_SECRET',
      status: 'fail',
      detail: 'not set: the router rejects every Stripe delivery',
      cure: expect.stringContaining('--webhook-secret whsec_'),
    });
    expect(json.checks.find((c) => c.name === 'login')).toEqual({
      name: 'login',
      status: 'ok',
      detail: `logged in as ClientApplication ${p.env.clientId}`,
    });
  });
});
