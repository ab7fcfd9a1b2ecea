import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OpsError, parseWhen, positiveInt } from '../../scripts/ops/cli';
import { withBotIds } from '../../scripts/ops/config-file';
import { readMedplumEnv } from '../../scripts/ops/env';
import { createProgress } from '../../scripts/ops/progress';
import { parseRateLimitHeader, rateLimitedFetch, retryWaitMs } from '../../scripts/ops/rate-limit';
import { archiveQueries, matchesTypes, STUCK_AFTER_SECONDS } from '../../scripts/ops/replay';
import { endpointUrl, mergeSecrets, withOperator, withWebhookSecret } from '../../scripts/ops/setup-plan';
import { DoneState } from '../../scripts/ops/state';
import { recordingSleep, tempDir } from './helpers';

describe('rate limits', () => {
  it('reads the RateLimit header Medplum servers send, and the form MedplumClient expects', () => {
    expect(parseRateLimitHeader('"requests";r=0;t=42')).toEqual([{ name: 'requests', remaining: 0, resetSeconds: 42 }]);
    expect(parseRateLimitHeader('"requests";r=10;t=5, "fhirInteractions";r=0;t=30')).toEqual([
      { name: 'requests', remaining: 10, resetSeconds: 5 },
      { name: 'fhirInteractions', remaining: 0, resetSeconds: 30 },
    ]);
    expect(parseRateLimitHeader('"requests", r=0, t=9; "auth", r=3, t=60')).toEqual([
      { name: 'requests', remaining: 0, resetSeconds: 9 },
      { name: 'auth', remaining: 3, resetSeconds: 60 },
    ]);
    expect(parseRateLimitHeader('garbage')).toEqual([]);
  });

  it('waits for the exhausted limit, else Retry-After, else backs off', () => {
    const headers = (h: Record<string, string>) => new Headers(h);
    expect(retryWaitMs(headers({ ratelimit: '"requests";r=10;t=5, "fhirInteractions";r=0;t=30' }), 1)).toBe(30_000);
    expect(retryWaitMs(headers({ 'retry-after': '3' }), 1)).toBe(3000);
    expect(retryWaitMs(headers({}), 1)).toBe(1000);
    expect(retryWaitMs(headers({}), 3)).toBe(4000);
    expect(retryWaitMs(headers({ ratelimit: '"requests";r=0;t=100000' }), 1)).toBe(300_000);
  });

  it('retries a 429 after the wait, and gives the last one back after maxAttempts', async () => {
    const { waits, sleep } = recordingSleep();
    let calls = 0;
    const limited = rateLimitedFetch({
      maxAttempts: 3,
      sleep,
      fetch: async () => {
        calls++;
        return new Response('{}', { status: 429, headers: { RateLimit: '"requests";r=0;t=2' } });
      },
    });
    expect((await limited('https://medplum.test/x', { method: 'POST', body: '{}' })).status).toBe(429);
    expect(calls).toBe(3);
    expect(waits).toEqual([2000, 2000]);
  });
});

describe('state of a replay or backfill', () => {
  it('remembers done events per scope, and survives a line cut short by a crash', () => {
    const path = join(tempDir(), 'nested', 'state.jsonl');
    const state = DoneState.load(path, 'server|project|Bot/1|');
    state.markDone('evt_1', 'processed');
    state.markDone('evt_2', 'ignored');
    DoneState.load(path, 'other|project|Bot/1|').markDone('evt_3', 'processed');
    appendFileSync(path, '{"scope":"server|project|Bot/1|","id":"evt_4"'); // the crash
    const reloaded = DoneState.load(path, 'server|project|Bot/1|');
    expect(['evt_1', 'evt_2', 'evt_3', 'evt_4'].map((id) => reloaded.has(id))).toEqual([true, true, false, false]);
    expect(reloaded.size).toBe(2);
    const said = reloaded.describe().join('\n');
    expect(said).toMatch(/resuming the unfinished run.*the 2 event\(s\) it posted are skipped/);
    expect(said).toMatch(/also holds 1 other run\(s\).*not reused/);
  });

  it('does not reuse the state of a run that finished, and says so', () => {
    const path = join(tempDir(), 'state.jsonl');
    const scope = 'server|project|Bot/1|--failed-only';
    const run = DoneState.load(path, scope);
    run.markDone('evt_1', 'processed');
    run.close();
    const next = DoneState.load(path, scope);
    expect(next.has('evt_1')).toBe(false);
    expect(next.size).toBe(0);
    expect(next.describe()).toEqual([expect.stringMatching(/a run with the same selection finished at .*not reused/)]);
  });
});

describe('medplum.config.json', () => {
  it('gets the ids as 2-space JSON with a final newline, and is left alone when they are there', () => {
    const text =
      '{"bots":[{"name":"a","id":"","source":"s","dist":"d"},{"name":"b","id":"2","source":"s","dist":"d"}]}';
    const next = withBotIds(text, { a: '1', b: '2' });
    expect(next).toBe(
      `${JSON.stringify(
        {
          bots: [
            { name: 'a', id: '1', source: 's', dist: 'd' },
            { name: 'b', id: '2', source: 's', dist: 'd' },
          ],
        },
        null,
        2
      )}\n`
    );
    expect(withBotIds(next as string, { a: '1', b: '2' })).toBeUndefined();
  });
});

describe('setup plan', () => {
  it('merges secrets in place, appending new ones and leaving equal ones untouched', () => {
    const existing = [
      { name: 'A', valueString: 'a' },
      { name: 'STRIPE_LIVEMODE', valueString: 'true' },
    ];
    expect(mergeSecrets(existing, [{ name: 'STRIPE_LIVEMODE', valueBoolean: true }])).toEqual({
      secrets: existing,
      changed: [],
    });
    expect(
      mergeSecrets(existing, [
        { name: 'A', valueString: 'b' },
        { name: 'C', valueString: 'c' },
      ])
    ).toEqual({
      secrets: [{ name: 'A', valueString: 'b' }, existing[1], { name: 'C', valueString: 'c' }],
      changed: ['A', 'C'],
    });
  });

  it('adds an operator and a webhook secret once', () => {
    expect(withOperator(undefined, 'ClientApplication/1')).toBe('ClientApplication/1');
    expect(withOperator(' Practitioner/2 , ClientApplication/1', 'ClientApplication/1')).toBe(
      'Practitioner/2,ClientApplication/1'
    );
    expect(withWebhookSecret('whsec_a,whsec_b', 'whsec_b')).toBe('whsec_b,whsec_a');
  });

  it('builds the endpoint URL from the base URL, masked unless asked', () => {
    const parts = { baseUrl: 'https://api.example.org/', clientId: 'c1', clientSecret: 's3cret', routerId: 'r1' };
    expect(endpointUrl(parts)).toBe('https://c1:********@api.example.org/fhir/R4/Bot/r1/$execute');
    expect(endpointUrl(parts, true)).toBe('https://c1:s3cret@api.example.org/fhir/R4/Bot/r1/$execute');
    expect(endpointUrl({ ...parts, baseUrl: 'http://localhost:8103/medplum/' }, true)).toBe(
      'http://c1:s3cret@localhost:8103/medplum/fhir/R4/Bot/r1/$execute'
    );
  });
});

describe('command line', () => {
  it('parses times as ISO dates or ages, and rejects anything else clearly', () => {
    const now = Date.parse('2025-06-30T00:00:00Z');
    expect(parseWhen('30d', 'since', now).toISOString()).toBe('2025-05-31T00:00:00.000Z');
    expect(parseWhen('12h', 'since', now).toISOString()).toBe('2025-06-29T12:00:00.000Z');
    expect(parseWhen('2025-01-31', 'since').toISOString()).toBe('2025-01-31T00:00:00.000Z');
    expect(() => parseWhen('yesterday', 'since')).toThrow(OpsError);
    expect(() => positiveInt('0', 'concurrency', 4)).toThrow(/--concurrency must be a positive integer/);
    expect(positiveInt(undefined, 'concurrency', 4)).toBe(4);
  });

  it('names the missing Medplum variables', () => {
    expect(() => readMedplumEnv({ MEDPLUM_CLIENT_ID: 'x' })).toThrow(/^MEDPLUM_CLIENT_SECRET is not set/);
    expect(
      readMedplumEnv({ MEDPLUM_CLIENT_ID: 'x', MEDPLUM_CLIENT_SECRET: 'y', MEDPLUM_BASE_URL: 'http://localhost:8103' })
    ).toEqual({
      baseUrl: 'http://localhost:8103/',
      clientId: 'x',
      clientSecret: 'y',
    });
  });

  it('draws a bar on a terminal and writes plain lines elsewhere', () => {
    const counts = { done: 0, total: 40, processed: 0, ignored: 0, duplicate: 0, failed: 0 };
    const tty: string[] = [];
    const bar = createProgress('replay', { isTTY: true, columns: 200, write: (t: string) => tty.push(t) });
    bar.update({ ...counts, done: 20, processed: 20 });
    bar.finish({ ...counts, done: 40, processed: 40 });
    expect(tty[0]?.startsWith(`\r\u001b[2Kreplay [${'#'.repeat(12)}${'-'.repeat(12)}] 20/40 `)).toBe(true);
    const plain: string[] = [];
    const lines = createProgress('replay', { isTTY: false, write: (t: string) => plain.push(t) });
    for (let done = 1; done <= 40; done++) {
      lines.update({ ...counts, done, processed: done });
    }
    lines.finish({ ...counts, done: 40, processed: 40 });
    expect(plain.every((l) => !l.includes('\r') && l.endsWith('\n'))).toBe(true);
    expect(plain.length).toBe(20);
  });
});

describe('replay selection', () => {
  it('searches exact types and ids, and leaves wildcards to the category match', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const filter = { types: ['invoice.paid'], eventIds: ['evt_1'], since: new Date(0) };
    const [stopped, stuck, ...more] = archiveQueries({ ...filter, failedOnly: true }, 100, now);
    const common = {
      identifier: 'https://stripe.com/event/id|evt_1',
      category: 'https://stripe.com/event/type|invoice.paid',
      sent: 'ge1970-01-01T00:00:00.000Z',
      _sort: 'sent',
    };
    expect(more).toEqual([]);
    expect(Object.fromEntries(stopped ?? [])).toEqual({ ...common, _count: '100', status: 'stopped' });
    // Failed only also takes archives stuck in-progress for longer than a bot run can last.
    expect(Object.fromEntries(stuck ?? [])).toEqual({
      ...common,
      _count: '100',
      status: 'in-progress',
      _lastUpdated: `lt${new Date(now - STUCK_AFTER_SECONDS * 1000).toISOString()}`,
    });
    const [all, ...none] = archiveQueries(filter);
    expect(none).toEqual([]);
    expect(all?.has('status')).toBe(false);
    expect(archiveQueries({ types: ['invoice.*'] })[0]?.has('category')).toBe(false);
    expect(matchesTypes('invoice.paid', ['invoice.*'])).toBe(true);
    expect(matchesTypes('invoice_payment.paid', ['invoice.*'])).toBe(false);
    expect(matchesTypes('charge.refund.updated', ['charge.*'])).toBe(true);
    expect(matchesTypes('anything', [])).toBe(true);
  });
});

describe('files written in place', () => {
  it('keeps a config that needs no change byte for byte', () => {
    const path = join(tempDir(), 'medplum.config.json');
    const text = `${JSON.stringify({ bots: [{ name: 'a', id: '1', source: 's', dist: 'd' }] }, null, 2)}\n`;
    writeFileSync(path, text);
    expect(withBotIds(readFileSync(path, 'utf8'), { a: '1' })).toBeUndefined();
  });
});
