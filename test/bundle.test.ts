import { OperationOutcomeError, type BotEvent } from '@medplum/core';
import type { Communication, Invoice, Patient } from '@medplum/fhirtypes';
import { build } from 'esbuild';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { botBuildOptions, BUNDLE_FOOTER, STRIPE_RUNTIME_BOTS } from '../scripts/build';
import { PROJECT_ROOT } from '../scripts/bot-config';
import { BOT_NAME, STRIPE_SYSTEM } from '../src/constants';
import {
  createVmSandbox,
  LAMBDA_CACHE_DIR,
  loadBundle,
  loadInLambda,
  loadInVmContext,
  readBuiltBundles,
  runInVmContext,
  RUNTIMES,
  VM_ABSENT_GLOBALS,
  VM_SANDBOX_GLOBALS,
  vmContextHandlerType,
  type BuiltBundle,
  type LoadedBot,
  type RuntimeName,
} from './harness/bundle-runtimes';
import { loadStripeFixture, type FixtureShape } from '../lib/stripe-events/fixtures';
import { createTestProject, OPERATOR, WEBHOOK_SECRET } from './harness/project';
import { invoiceLifecycleEvents, wrapEvent, type InvoiceLifecycle } from '../lib/stripe-events/events';
import { startStripeFake } from '../scripts/local/stripe-fake';

// Whatever medplum.config.json lists now: bots added by others are covered without editing this file.
const bundles = readBuiltBundles();
const loaded: LoadedBot[] = [];

function load(runtime: RuntimeName, bundle: BuiltBundle): LoadedBot {
  const bot = loadBundle(runtime, bundle);
  loaded.push(bot);
  return bot;
}

afterAll(() => {
  for (const bot of loaded) {
    bot.dispose();
  }
});

/** Builds a bot as scripts/build.ts does, in memory, with the footer given (none: no footer). */
async function buildInMemory(bundle: BuiltBundle, footer?: string) {
  const { footer: _footer, ...options } = botBuildOptions(bundle.entry);
  const result = await build({
    ...options,
    outfile: resolve(LAMBDA_CACHE_DIR, 'in-memory', bundle.entry.dist),
    write: false,
    ...(footer !== undefined && { footer: { js: footer } }),
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) {
    throw new Error(`esbuild produced no output for ${bundle.entry.name}`);
  }
  return { code: file.text, inputs: Object.keys(result.metafile.inputs) };
}

/** A BotEvent as `$execute` hands it over, for calling a loaded handler directly. */
function botEvent(input: unknown, secrets: BotEvent['secrets'], requester = OPERATOR): BotEvent {
  return {
    bot: { reference: 'Bot/direct-call' },
    contentType: 'application/json',
    input,
    secrets,
    requester: { reference: requester } as BotEvent['requester'],
    headers: { 'content-type': 'application/json' },
  };
}

/** An event of a type no bot of this suite handles (Stripe's customer object, id made real-looking). */
function unhandledEvent() {
  const product = { ...loadStripeFixture('openapi', 'product'), id: 'prod_TestUnrouted1', object: 'product' };
  return wrapEvent('product.created', product);
}

describe('the vmcontext sandbox', () => {
  it('holds exactly the globals every Medplum server version provides, plus the invocation event', () => {
    const sandbox = createVmSandbox(bundles[0]?.path ?? resolve(PROJECT_ROOT, 'dist', 'x.js'), {
      extra: { event: {} },
    });
    expect(Object.keys(sandbox).sort()).toEqual([...VM_SANDBOX_GLOBALS, 'event'].sort());
  });

  it('lacks Buffer, process, timers, Headers and streams, while require reaches node: modules', () => {
    const probe = `(() => ({
      absent: ${JSON.stringify(VM_ABSENT_GLOBALS)}.filter((name) => eval('typeof ' + name) !== 'undefined'),
      present: ${JSON.stringify(VM_SANDBOX_GLOBALS)}.filter((name) => eval('typeof ' + name) === 'undefined'),
      buffer: typeof require('node:buffer').Buffer,
      sleep: typeof require('node:timers/promises').setTimeout,
      client: typeof MedplumClient,
      exportsShim: typeof exports + '/' + (module.exports === exports),
    }))();`;
    const seen = runInVmContext('', { filename: resolve(PROJECT_ROOT, 'dist', 'probe.js'), invocation: probe });
    expect(JSON.parse(JSON.stringify(seen))).toEqual({
      absent: [],
      present: [],
      buffer: 'function',
      sleep: 'function',
      client: 'function',
      exportsShim: 'object/true',
    });
  });

  it('makes a bundle that touches a missing global fail, where Lambda would not notice', async () => {
    // Hand-written CommonJS, shaped like esbuild's output: module.exports assigned, footer copies it.
    const code = `"use strict";
module.exports = { handler: async () => { await new Promise((r) => setTimeout(r, 0)); return Buffer.from('ok').toString(); } };
${BUNDLE_FOOTER}
`;
    const project = await createTestProject();
    const medplum = project.server.client('Bot/probe');
    const event = botEvent({}, project.server.secrets);
    const vmBot = loadInVmContext({ name: 'probe', code, path: resolve(PROJECT_ROOT, 'dist', 'probe.js') });
    await expect(vmBot.handler(medplum, event)).rejects.toThrow(/setTimeout is not defined/);
    const lambdaBot = loadInLambda({ name: 'probe', code });
    loaded.push(lambdaBot);
    await expect(lambdaBot.handler(medplum, event)).resolves.toBe('ok');
  });
});

describe('medplum.config.json', () => {
  it('lists the router and the invoice bot, each with a built bundle', () => {
    expect(bundles.map((b) => b.entry.name)).toEqual(expect.arrayContaining([BOT_NAME.router, BOT_NAME.invoice]));
    for (const bundle of bundles) {
      expect(bundle.code.length, bundle.entry.dist).toBeGreaterThan(0);
    }
  });
});

describe.each(bundles)('bundle $entry.name ($entry.dist)', (bundle) => {
  // Only the payment-request bot (called by staff, not on the webhook path) carries the stripe
  // runtime, inlined and minified; the webhook-path bots carry none of it.
  const withStripe = STRIPE_RUNTIME_BOTS.has(bundle.entry.name);

  it(withStripe ? 'carries the stripe runtime inlined, within 300 KB' : 'carries no stripe runtime', () => {
    expect(bundle.code).not.toMatch(/require\(["']stripe(\/[^"']*)?["']\)/);
    for (const marker of ['api.stripe.com', 'Stripe-Version', 'Idempotency-Key', 'NodeBindings']) {
      if (withStripe) {
        expect(bundle.code, marker).toContain(marker);
      } else {
        expect(bundle.code, marker).not.toContain(marker);
      }
    }
    if (withStripe) {
      expect(Buffer.byteLength(bundle.code)).toBeLessThanOrEqual(300 * 1024);
      // The SDK's globals come from node: modules (the vmcontext sandbox has none of them).
      expect(bundle.code).toContain('require("node:process")');
      expect(bundle.code).toContain('require("node:timers")');
    }
  });

  it('requires @medplum/core instead of inlining it', () => {
    expect(bundle.code).toContain('require("@medplum/core")');
    // Markers of core's own code (core is minified, so its string literals are the reliable ones).
    for (const marker of ['class MedplumClient', 'https://api.medplum.com/', 'oauth2/token']) {
      expect(bundle.code, marker).not.toContain(marker);
    }
  });

  it('ends with the footer, and the footer with ";"', () => {
    expect(BUNDLE_FOOTER.endsWith(';')).toBe(true);
    expect(bundle.code.trimEnd().endsWith(BUNDLE_FOOTER)).toBe(true);
  });

  it('exposes its handler under the vmcontext wrapper only thanks to the complete footer', async () => {
    const withFooter = await buildInMemory(bundle, BUNDLE_FOOTER);
    const noFooter = await buildInMemory(bundle);
    const noSemicolon = await buildInMemory(bundle, BUNDLE_FOOTER.replace(/;$/, ''));
    // The three builds are the build script's, differing only in the footer.
    expect(withFooter.code.trimEnd().endsWith(BUNDLE_FOOTER)).toBe(true);
    expect(withFooter.inputs.some((input) => /node_modules[\\/]@medplum[\\/]core[\\/]/.test(input))).toBe(false);
    expect(withFooter.inputs.some((input) => /node_modules[\\/]stripe[\\/]/.test(input))).toBe(withStripe);
    expect(vmContextHandlerType(withFooter.code, bundle.path)).toBe('function');
    expect(vmContextHandlerType(noFooter.code, bundle.path)).toBe('undefined');

    const project = await createTestProject();
    const medplum = project.server.client('Bot/no-footer');
    const event = botEvent(unhandledEvent(), project.server.secrets);
    const name = `${bundle.entry.name}-no-footer`;
    // What the server runs: its invocation finds no exports.handler.
    await expect(
      loadInVmContext({ name, code: noFooter.code, path: bundle.path }).handler(medplum, event)
    ).rejects.toThrow(/exports\.handler is not a function/);
    // Without the final ';' the footer's call runs into the server's `(async () => …)()`.
    await expect(
      loadInVmContext({ name, code: noSemicolon.code, path: bundle.path }).handler(medplum, event)
    ).rejects.toThrow(/Object\.assign\(\.\.\.\) is not a function/);
    // (a TypeError of the sandbox's realm, hence matched by message)
    expect(() => vmContextHandlerType(noSemicolon.code, bundle.path)).toThrow(
      /Object\.assign\(\.\.\.\) is not a function/
    );
  });

  it.each(RUNTIMES)(
    'loads under %s and answers an event it does not handle without a ReferenceError',
    async (runtime) => {
      const bot = load(runtime, bundle);
      const project = await createTestProject();
      const medplum = project.server.client(`Bot/${bundle.entry.name}`);
      const event = unhandledEvent();
      const settled = await bot.handler(medplum, botEvent(event, project.server.secrets)).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error })
      );
      expect(bot.calls()).toBe(1);
      if (settled.ok) {
        // A bot that takes any event (the router, for an operator's replay) says it ignored this one.
        expect(settled.value).toMatchObject({ outcome: 'ignored' });
      } else {
        // A target bot refuses a family it does not own with an OperationOutcome, not a crash.
        expect(settled.error).toBeInstanceOf(OperationOutcomeError);
        expect(String((settled.error as Error).message)).not.toMatch(/is not defined|is not a function/);
      }
    }
  );
});

describe.each(RUNTIMES)('built bundles under %s, end to end', (runtime) => {
  const cases: { lifecycle: InvoiceLifecycle; shape: FixtureShape; status: Invoice['status'] }[] = [
    { lifecycle: 'paid', shape: 'openapi', status: 'balanced' },
    { lifecycle: 'voided', shape: 'openapi-2025-02-24.acacia', status: 'cancelled' },
  ];

  it.each(cases)(
    'turns a $lifecycle invoice ($shape) into one $status Invoice',
    async ({ lifecycle, shape, status }) => {
      const bots = Object.fromEntries(bundles.map((bundle) => [bundle.entry.name, load(runtime, bundle)]));
      const project = await createTestProject({
        bots: Object.fromEntries(Object.entries(bots).map(([name, bot]) => [name, bot.handler])),
      });
      const invoiceId = `in_1TestBundle${runtime === 'vmcontext' ? 'Vm' : 'Lambda'}${lifecycle}`;
      const events = invoiceLifecycleEvents({ id: invoiceId, shape }, lifecycle);
      for (const event of events) {
        const response = await project.deliver(event);
        expect(response.status, JSON.stringify(response.body)).toBe(200);
        expect(response.result).toMatchObject({ eventId: event.id, outcome: 'processed', target: BOT_NAME.invoice });
      }

      // The bundles ran, not the TypeScript sources: one router run per delivery, one invoice run each.
      expect(bots[BOT_NAME.router]?.calls()).toBe(events.length);
      expect(bots[BOT_NAME.invoice]?.calls()).toBe(events.length);

      const invoices = await project.server.all<Invoice>('Invoice');
      expect(invoices).toHaveLength(1);
      expect(invoices[0]?.status).toBe(status);
      expect(invoices[0]?.identifier).toEqual([{ system: STRIPE_SYSTEM.invoice, value: invoiceId }]);
      expect(invoices[0]?.subject).toEqual({ reference: `Patient/${project.patient.id}` });

      const archives = await project.server.all<Communication>('Communication');
      expect(archives).toHaveLength(events.length);
      for (const archive of archives) {
        expect(archive.status).toBe('completed');
        expect(archive.about).toEqual([{ reference: `Invoice/${invoices[0]?.id}` }]);
      }

      // An unrouted type goes through the bundled router as well: archived and ignored.
      const other = await project.deliver(unhandledEvent());
      expect(other.status).toBe(200);
      expect(other.result).toMatchObject({ outcome: 'ignored' });

      // What the bundles logged (kept by the vmcontext console) holds no secret and no header.
      for (const line of Object.values(bots).flatMap((bot) => bot.logs)) {
        expect(line).not.toContain(WEBHOOK_SECRET);
        expect(line).not.toMatch(/Basic c3RyaXBl|stripe-signature|v1=/i);
      }
      if (runtime === 'vmcontext') {
        expect(bots[BOT_NAME.router]?.logs.length).toBeGreaterThan(0);
      }
    }
  );
});

describe.each(RUNTIMES)('the payment-request bundle under %s, against a loopback fake Stripe', (runtime) => {
  it('creates the customer and one session, answers a retry with the same session, and logs no key', async () => {
    const bundle = bundles.find((b) => b.entry.name === BOT_NAME.paymentRequest);
    expect(bundle, 'medplum.config.json lists stripe-payment-request').toBeDefined();
    const bot = load(runtime, bundle as BuiltBundle);
    const stripe = await startStripeFake();
    try {
      const project = await createTestProject({ bots: { [BOT_NAME.paymentRequest]: bot.handler } });
      const key = 'rk_test_BundleTestKey0123456789';
      project.server.setSecret('STRIPE_SECRET_KEY', key);
      project.server.setSecret('STRIPE_API_URL', stripe.origin);
      const patient = await project.server.seed<Patient>({ resourceType: 'Patient', name: [{ family: 'Flanders' }] });
      const input = JSON.stringify({ patient: `Patient/${patient.id}`, amount: 4200, currency: 'eur' });

      const first = await project.server.execute(BOT_NAME.paymentRequest, input, { requester: OPERATOR });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const second = await project.server.execute(BOT_NAME.paymentRequest, input, { requester: OPERATOR });
      expect(second.body).toEqual(first.body);
      expect(bot.calls()).toBe(2);

      const result = first.body as { sessionId: string; customer: string; url: string };
      expect([...stripe.fake.sessions.keys()]).toEqual([result.sessionId]);
      expect(stripe.fake.sessions.get(result.sessionId)).toMatchObject({ amount: 4200, currency: 'eur' });
      expect([...stripe.fake.customers.keys()]).toEqual([result.customer]);
      const stored = await project.server.repo.readResource<Patient>('Patient', patient.id);
      expect(stored.identifier).toEqual([
        expect.objectContaining({ system: STRIPE_SYSTEM.customer, value: result.customer }),
      ]);
      for (const line of bot.logs) {
        expect(line).not.toContain(key);
      }
      if (runtime === 'vmcontext') {
        expect(bot.logs.join('\n')).toContain(result.sessionId);
      }
    } finally {
      await stripe.close();
    }
  });
});
