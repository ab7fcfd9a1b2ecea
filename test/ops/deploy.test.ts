import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, type BotEntry } from '../../scripts/bot-config';
import { BUNDLE_FOOTER } from '../../scripts/build';
import { memoryLogger } from '../../scripts/ops/cli';
import { runDeploy, selectBots } from '../../scripts/ops/deploy';
import { tempDir } from './helpers';
import { MedplumHttpFake } from './medplum-http-fake';

/**
 * Deploys run the real Medplum CLI (node_modules/.bin/medplum) as a subprocess, against a Medplum
 * stand-in on 127.0.0.1; the bundles are built by scripts/build.ts's esbuild step into a temp dir.
 */
const server = new MedplumHttpFake();
const home = tempDir();
let routerId = '';
let invoiceId = '';

beforeAll(async () => {
  await server.start();
  routerId = server.addBot('stripe-router');
  invoiceId = server.addBot('stripe-invoice');
});
afterAll(() => server.stop());

/** A project directory with its own medplum.config.json (the CLI reads the one in its working directory). */
function projectDir(bots: { name: string; id: string }[]): { configPath: string; dist: (name: string) => string } {
  const dir = tempDir();
  mkdirSync(join(dir, 'dist'));
  const dist = (name: string) => join(dir, 'dist', `${name}.js`);
  const entries: BotEntry[] = bots.map((b) => ({
    name: b.name,
    id: b.id,
    source: resolve(PROJECT_ROOT, 'bots', `${b.name}.ts`),
    dist: dist(b.name),
  }));
  const configPath = join(dir, 'medplum.config.json');
  writeFileSync(configPath, `${JSON.stringify({ bots: entries }, null, 2)}\n`);
  return { configPath, dist };
}

function deploy(configPath: string, names: string[] = []) {
  const log = memoryLogger();
  return { log, run: runDeploy({ configPath, names, env: server.env(home), log }) };
}

describe('npm run deploy', () => {
  it('builds and deploys the named bot only, with its built bundle', async () => {
    const { configPath, dist } = projectDir([
      { name: 'stripe-router', id: routerId },
      { name: 'stripe-invoice', id: invoiceId },
    ]);
    expect(existsSync(dist('stripe-invoice'))).toBe(false);
    const before = server.deployed.length;

    const result = await deploy(configPath, ['stripe-invoice']).run;
    expect(result).toEqual({ deployed: ['stripe-invoice'], failed: [] });
    const deployed = server.deployed.slice(before);
    expect(deployed.map((d) => d.botId)).toEqual([invoiceId]);
    // Built first (the dist did not exist), then that exact file was deployed.
    const code = readFileSync(dist('stripe-invoice'), 'utf8');
    expect(deployed[0]?.code).toBe(code);
    expect(code).toContain(BUNDLE_FOOTER);
    expect(deployed[0]?.filename).toBe('stripe-invoice.js');
    // The CLI also saved the TypeScript source on the Bot.
    const saved = server.bots.get(invoiceId) as { sourceCode?: { url?: string } };
    const binaryId = saved.sourceCode?.url?.split('/').pop() ?? '';
    expect(server.binaries.get(binaryId)).toBe(readFileSync(resolve(PROJECT_ROOT, 'bots/stripe-invoice.ts'), 'utf8'));
    expect(existsSync(dist('stripe-router'))).toBe(false);
  });

  it('deploys every bot when none is named', async () => {
    const { configPath } = projectDir([
      { name: 'stripe-router', id: routerId },
      { name: 'stripe-invoice', id: invoiceId },
    ]);
    const before = server.deployed.length;
    const result = await deploy(configPath).run;
    expect(result.deployed).toEqual(['stripe-router', 'stripe-invoice']);
    expect(server.deployed.slice(before).map((d) => d.botId)).toEqual([routerId, invoiceId]);
  });

  it('rejects an unknown bot name before building or calling anything', async () => {
    const { configPath, dist } = projectDir([{ name: 'stripe-router', id: routerId }]);
    const calls = server.calls.length;
    await expect(deploy(configPath, ['stripe-router', 'stripe-nope']).run).rejects.toThrow(
      /unknown bot\(s\) stripe-nope: medplum\.config\.json lists stripe-router/
    );
    expect(server.calls.length).toBe(calls);
    expect(existsSync(dist('stripe-router'))).toBe(false);
  });

  it('rejects a bot without an id (the CLI itself would only print "saved: 0")', async () => {
    const { configPath } = projectDir([
      { name: 'stripe-router', id: routerId },
      { name: 'stripe-invoice', id: '' },
    ]);
    const calls = server.calls.length;
    await expect(deploy(configPath).run).rejects.toThrow(
      /stripe-invoice has no id in medplum\.config\.json.*npm run setup/
    );
    await expect(deploy(configPath, ['stripe-invoice']).run).rejects.toThrow(/no id/);
    expect(server.calls.length).toBe(calls);
    // Named alone, a bot with an id deploys.
    expect(selectBots([{ name: 'a', id: '1', source: 's', dist: 'd' }], ['a'])).toHaveLength(1);
  });

  it('reports a bot the server does not have as failed, and deploys the others', async () => {
    const { configPath } = projectDir([
      { name: 'stripe-router', id: 'no-such-bot' },
      { name: 'stripe-invoice', id: invoiceId },
    ]);
    const { run, log } = deploy(configPath);
    const result = await run;
    expect(result.deployed).toEqual(['stripe-invoice']);
    expect(result.failed).toEqual([{ name: 'stripe-router', reason: expect.stringMatching(/exited 1/) }]);
    expect(log.lines.join('\n')).toMatch(/Number of bots deployed: 0/);
  });

  it("prints the server's reason for a failed deploy, and the Bot version the CLI saved anyway", async () => {
    const { configPath } = projectDir([{ name: 'stripe-invoice', id: invoiceId }]);
    server.botsEnabled = false;
    try {
      const before = server.deployed.length;
      const { run, log } = deploy(configPath);
      const result = await run;
      expect(result.deployed).toEqual([]);
      expect(server.deployed.length).toBe(before);
      const version = (server.bots.get(invoiceId) as { meta?: { versionId?: string } }).meta?.versionId;
      expect(result.failed).toEqual([
        {
          name: 'stripe-invoice',
          reason: expect.stringContaining('the server answered: Bots not enabled'),
        },
      ]);
      const reason = result.failed[0]?.reason ?? '';
      expect(reason).toContain(`still left Bot version ${version}`);
      expect(reason).toMatch(/super admin.*docs\/deploy\.md/);
      expect(log.lines.join('\n')).toContain('stripe-invoice was not deployed: medplum bot deploy exited 1');
    } finally {
      server.botsEnabled = true;
    }
  });

  it('does nothing in a dry run', async () => {
    const { configPath, dist } = projectDir([{ name: 'stripe-router', id: routerId }]);
    const calls = server.calls.length;
    const { run, log } = (() => {
      const l = memoryLogger();
      return { log: l, run: runDeploy({ configPath, dryRun: true, env: server.env(home), log: l }) };
    })();
    expect(await run).toEqual({ deployed: [], failed: [] });
    expect(server.calls.length).toBe(calls);
    expect(existsSync(dist('stripe-router'))).toBe(false);
    expect(log.lines).toEqual([expect.stringMatching(/^would build .* and deploy stripe-router to Bot\//)]);
  });
});
