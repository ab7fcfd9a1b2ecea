import { setupServer } from 'msw/node';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/bot-config';
import { memoryLogger } from '../../scripts/ops/cli';
import { connectMedplum, createStripe } from '../../scripts/ops/env';
import { runSetup, type SetupOptions } from '../../scripts/ops/setup';
import { ROUTED_EVENT_TYPES } from '../../src/router/routes';
import { tempConfig } from './helpers';
import { MedplumFake } from './medplum-fake';
import { StripeFake } from './stripe-fake';

const msw = setupServer();
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterEach(() => msw.resetHandlers());
afterAll(() => msw.close());

/** Exactly the event types the router dispatches. */
const ROUTED = [...new Set(Object.values(ROUTED_EVENT_TYPES).flat())].sort();
const PINNED_API_VERSION = '2026-07-29.dahlia';

async function project(options: { secrets?: { name: string; valueString: string }[] } = {}) {
  const medplum = await MedplumFake.create(options);
  const stripe = new StripeFake();
  msw.use(...medplum.handlers(), ...stripe.handlers());
  return { medplum, stripe, configPath: tempConfig() };
}

async function setup(fake: MedplumFake, options: SetupOptions & { configPath: string }) {
  const env = fake.env();
  const medplum = await connectMedplum(env);
  const log = memoryLogger();
  const result = await runSetup({ medplum, env, log, stripe: createStripe('sk_test_fake') }, options);
  return { result, log };
}

describe('npm run setup with STRIPE_SECRET_KEY', () => {
  it("creates the webhook endpoint with the router's event types and stores its signing secret", async () => {
    const { medplum, stripe, configPath } = await project();
    const { result } = await setup(medplum, { configPath, payeeName: 'Clinic', showSecret: true });

    expect(stripe.endpoints).toHaveLength(1);
    const endpoint = stripe.endpoints[0];
    expect([...(endpoint?.enabled_events ?? [])].sort()).toEqual(ROUTED);
    expect(endpoint?.api_version).toBe(PINNED_API_VERSION);
    expect(endpoint?.url).toBe(result.endpointUrl);
    expect(endpoint?.url).toMatch(
      new RegExp(
        `^https://${result.webhookClientId}:[0-9a-f]{32}@medplum\\.test/fhir/R4/Bot/${result.botIds['stripe-router']}/\\$execute$`
      )
    );
    expect(endpoint?.metadata).toEqual({ stripe_medplum_project: medplum.project.id });
    expect(result.webhookEndpointId).toBe(endpoint?.id);
    expect(medplum.secret('STRIPE_WEBHOOK_SECRET')?.valueString).toBe(`whsec_created_${endpoint?.id}`);
    expect(result.warnings).toEqual([]);
  });

  it('updates the existing endpoint instead of creating another, and keeps the stored secret', async () => {
    const { medplum, stripe, configPath } = await project({
      secrets: [{ name: 'STRIPE_WEBHOOK_SECRET', valueString: 'whsec_stored' }],
    });
    const first = await setup(medplum, { configPath, payeeName: 'Clinic' });
    const endpoint = stripe.endpoints[0];
    expect(stripe.endpoints).toHaveLength(1);
    // Someone narrowed the events and disabled it in the Dashboard.
    Object.assign(endpoint ?? {}, { enabled_events: ['invoice.paid'], status: 'disabled' });
    const writesBefore = stripe.writes().length;

    await setup(medplum, { configPath });
    expect(stripe.endpoints).toHaveLength(1);
    expect([...(endpoint?.enabled_events ?? [])].sort()).toEqual(ROUTED);
    expect(endpoint?.status).toBe('enabled');
    const update = stripe.writes().slice(writesBefore);
    expect(update.map((c) => c.path)).toEqual([`/v1/webhook_endpoints/${endpoint?.id}`]);
    // Stripe shows an endpoint's secret only at creation: the one stored first is kept.
    expect(medplum.secret('STRIPE_WEBHOOK_SECRET')?.valueString).toBe(`whsec_created_${endpoint?.id},whsec_stored`);
    expect(first.result.webhookEndpointId).toBe(endpoint?.id);
  });

  it('finds an endpoint made by hand for the same URL, and says how to get its secret when none is stored', async () => {
    const { medplum, stripe, configPath } = await project();
    const dry = await setup(medplum, { configPath, payeeName: 'Clinic', dryRun: true });
    expect(stripe.writes()).toEqual([]);
    expect(dry.result.writes).toContain(
      `create the Stripe webhook endpoint (${ROUTED.length} event types, API ${PINNED_API_VERSION})`
    );

    // Made by hand before setup manages it: the URL without credentials, no metadata, other events.
    const first = await runWithoutStripe(medplum, configPath);
    const url = first.endpointUrl.replace(/\/\/[^@]+@/, '//');
    const manual = stripe.addEndpoint({ url, enabled_events: ['*'], api_version: '2025-03-31.basil' });

    // Stripe shows that endpoint's secret no more: setup stops before changing anything, and says how to get it.
    const calls = medplum.calls.length;
    await expect(setup(medplum, { configPath })).rejects.toThrow(
      new RegExp(
        `endpoint ${manual.id} exists already.*roll its signing secret.*--webhook-secret.*Nothing was changed`,
        's'
      )
    );
    expect(stripe.writes()).toEqual([]);
    expect(medplum.calls.slice(calls).filter((c) => c.method !== 'GET' && !c.path.startsWith('oauth2/'))).toEqual([]);

    const { result } = await setup(medplum, { configPath, webhookSecret: 'whsec_revealed' });
    expect(stripe.endpoints).toHaveLength(1);
    expect(manual.url).toMatch(/^https:\/\/[^:]+:[0-9a-f]{32}@medplum\.test\//);
    expect([...manual.enabled_events].sort()).toEqual(ROUTED);
    expect(manual.metadata).toEqual({ stripe_medplum_project: medplum.project.id });
    expect(medplum.secret('STRIPE_WEBHOOK_SECRET')?.valueString).toBe('whsec_revealed');
    expect(result.warnings.join('\n')).toMatch(/API version 2025-03-31\.basil, not 2026-07-29\.dahlia/);
  });

  it('writes nothing to Stripe or Medplum on a second run', async () => {
    const { medplum, stripe, configPath } = await project();
    await setup(medplum, { configPath, payeeName: 'Clinic' });
    const stripeWrites = stripe.writes().length;
    medplum.calls.length = 0;
    const { result } = await setup(medplum, { configPath });
    expect(result.writes).toEqual([]);
    expect(stripe.writes()).toHaveLength(stripeWrites);
    expect(medplum.writes()).toEqual([]);
  });

  it('subscribes only to event types that Stripe knows', () => {
    // The stripe package lists every event type an endpoint may enable; a typo in routes.ts would
    // make Stripe refuse the endpoint.
    const declarations = readFileSync(
      resolve(PROJECT_ROOT, 'node_modules/stripe/esm/resources/WebhookEndpoints.d.ts'),
      'utf8'
    );
    const enabledEvent = /type EnabledEvent = ([^;]+);/.exec(declarations)?.[1] ?? '';
    const known = new Set([...enabledEvent.matchAll(/'([^']+)'/g)].map((m) => m[1]));
    expect(known.size).toBeGreaterThan(100);
    expect(ROUTED.filter((type) => !known.has(type))).toEqual([]);
  });
});

async function runWithoutStripe(fake: MedplumFake, configPath: string) {
  const env = fake.env();
  const medplum = await connectMedplum(env);
  return runSetup({ medplum, env, log: memoryLogger() }, { configPath, payeeName: 'Clinic' });
}
