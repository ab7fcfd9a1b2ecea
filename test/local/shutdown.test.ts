import type { Invoice } from '@medplum/fhirtypes';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/bot-config';
import { STRIPE_SYSTEM } from '../../src/constants';
import { invoiceLifecycleEvents } from '../../lib/stripe-events/events';
import { postEvent, SECRET, startServer, temporaryDirectory } from './helpers';

interface StoreFileContent {
  readonly resources: { resourceType: string; identifier?: { system?: string; value?: string }[] }[];
}

function storedInvoiceIds(dataPath: string): string[] {
  const file = JSON.parse(readFileSync(dataPath, 'utf8')) as StoreFileContent;
  return file.resources
    .filter((r) => r.resourceType === 'Invoice')
    .flatMap((r) => (r.identifier ?? []).filter((i) => i.system === STRIPE_SYSTEM.invoice).map((i) => i.value ?? ''));
}

describe('npm start: stopping', () => {
  it('close() lets a request in flight finish, answers it, then saves the store', async () => {
    const dataPath = join(temporaryDirectory(), 'store.json');
    const server = await startServer({ dataPath });
    // Hold the router's run until close() has been called, so the request is in flight for sure.
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const serve = server.embedded.serve.bind(server.embedded);
    server.embedded.serve = async (path, init, caller) => {
      if (path.includes('$execute') && caller !== 'test' && !caller.startsWith('Bot/')) {
        started();
        await gate;
      }
      return serve(path, init, caller);
    };

    const [event] = invoiceLifecycleEvents({ id: 'in_1LocalInFlight' }, 'paid');
    const answer = postEvent(server.routerUrl, event);
    await running;
    // Written after the last event (so saved by close() only).
    await server.embedded.seed({
      resourceType: 'Invoice',
      status: 'draft',
      identifier: [{ system: STRIPE_SYSTEM.invoice, value: 'in_1LocalSeededLast' }],
    });
    const closed = server.close();
    release();
    expect((await answer).status).toBe(200);
    await closed;
    expect(storedInvoiceIds(dataPath).sort()).toEqual(['in_1LocalInFlight', 'in_1LocalSeededLast']);
    // Closed: nothing listens any more.
    await expect(fetch(server.routerUrl, { method: 'POST', body: '{}' })).rejects.toThrow();
  });

  it('`tsx scripts/start.ts` prints the URL to forward to, and exits 0 on SIGINT with the store saved', async () => {
    const dataPath = join(temporaryDirectory(), 'store.json');
    const child = spawn(
      process.execPath,
      [resolve(PROJECT_ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/start.ts', '--port', '0', '--data', dataPath],
      { cwd: PROJECT_ROOT, env: { ...process.env, STRIPE_WEBHOOK_SECRET: SECRET, PORT: '' }, stdio: 'pipe' }
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const url = await new Promise<string>((resolveUrl, rejectUrl) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /stripe listen --forward-to '([^']+)'/.exec(stdout);
          if (match?.[1] && stdout.includes('Events (type → outcome → resources):')) {
            resolveUrl(match[1]);
          }
        });
        void exited.then((code) => rejectUrl(new Error(`start.ts exited (${code}) early: ${stdout}${stderr}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir\/R4\/Bot\/[^/]+\/\$execute$/);
      expect(stdout).not.toContain('STRIPE_WEBHOOK_SECRET is not set');

      const [event] = invoiceLifecycleEvents({ id: 'in_1LocalChild' }, 'paid');
      const answer = await postEvent(url, event);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      const invoice = (answer.body.resources[0] ?? '').replace('Invoice/', '');
      expect(stdout).toMatch(new RegExp(`invoice\\.created ${event?.id} → processed → Invoice/${invoice}`));

      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stdout).toContain('stopped');
      expect(existsSync(dataPath)).toBe(true);
      expect(storedInvoiceIds(dataPath)).toEqual(['in_1LocalChild']);
      const file = JSON.parse(readFileSync(dataPath, 'utf8')) as { resources: Invoice[] };
      expect(file.resources.find((r) => r.id === invoice)?.status).toBe('draft');
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
      }
    }
  }, 90_000);

  it('without STRIPE_WEBHOOK_SECRET, start.ts warns that signed events will be rejected', async () => {
    const child = spawn(
      process.execPath,
      [resolve(PROJECT_ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/start.ts', '--port', '0', '--memory'],
      { cwd: PROJECT_ROOT, env: { ...process.env, STRIPE_WEBHOOK_SECRET: '', PORT: '' }, stdio: 'pipe' }
    );
    let stdout = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await new Promise<void>((resolveReady, rejectReady) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('Events (type → outcome → resources):')) {
            resolveReady();
          }
        });
        void exited.then((code) => rejectReady(new Error(`start.ts exited (${code}) early: ${stdout}`)));
      });
      expect(stdout).toContain('STRIPE_WEBHOOK_SECRET is not set, so every signed event will be rejected');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
      }
    }
  }, 90_000);
});
