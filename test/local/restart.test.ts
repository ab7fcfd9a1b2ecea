import type { Bot, Communication, Invoice } from '@medplum/fhirtypes';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STORE_FORMAT } from '../../lib/embedded/store-file';
import { parseStartArgs } from '../../scripts/local/args';
import { invoiceLifecycleEvents } from '../../lib/stripe-events/events';
import { getJson, postEvent, readType, startServer, temporaryDirectory } from './helpers';

describe('npm start: the store file', () => {
  it('keeps resources between runs with their ids and versions; a redelivery then changes nothing', async () => {
    const dataPath = join(temporaryDirectory(), 'nested', 'store.json');
    const events = invoiceLifecycleEvents({ id: 'in_1LocalRestart' }, 'paid');

    const first = await startServer({ dataPath });
    expect(first.restored).toBeUndefined();
    for (const event of events) {
      expect((await postEvent(first.routerUrl, event)).status).toBe(200);
    }
    const before = {
      invoices: await readType<Invoice>(first, 'Invoice'),
      archives: await readType<Communication>(first, 'Communication'),
      bots: await readType<Bot>(first, 'Bot'),
    };
    const routerUrlPath = new URL(first.routerUrl).pathname;
    const payee = first.project.payee.id;
    await first.close();

    const second = await startServer({ dataPath });
    expect(second.restored).toBeGreaterThan(0);
    // Same resources, same ids, same versions; the router keeps its id, so Stripe's URL stays valid.
    expect(await readType<Invoice>(second, 'Invoice')).toEqual(before.invoices);
    expect(await readType<Communication>(second, 'Communication')).toEqual(before.archives);
    expect(await readType<Bot>(second, 'Bot')).toEqual(before.bots);
    expect(new URL(second.routerUrl).pathname).toBe(routerUrlPath);
    expect(second.project).toMatchObject({ created: false, payee: { id: payee } });

    const invoice = before.invoices[0] as Invoice;
    const redelivered = await postEvent(second.routerUrl, events[events.length - 1]);
    expect(redelivered.status).toBe(200);
    expect(redelivered.body).toMatchObject({ outcome: 'duplicate', resources: [`Invoice/${invoice.id}`] });
    const after = await getJson<Invoice>(`${second.baseUrl}/fhir/R4/Invoice/${invoice.id}`);
    expect(after.body.meta?.versionId).toBe(invoice.meta?.versionId);
    expect(after.body).toEqual(invoice);

    // A new event still lands next to the restored ones, and is saved before it is answered.
    const [created] = invoiceLifecycleEvents({ id: 'in_1LocalAfterRestart' }, 'voided');
    expect((await postEvent(second.routerUrl, created)).status).toBe(200);
    const file = JSON.parse(readFileSync(dataPath, 'utf8')) as { format: string; resources: { id: string }[] };
    expect(file.format).toBe(STORE_FORMAT);
    const ids = new Set(file.resources.map((r) => r.id));
    const invoices = await readType<Invoice>(second, 'Invoice');
    expect(invoices).toHaveLength(2);
    expect(invoices.every((i) => ids.has(i.id as string))).toBe(true);
    // Written through a temporary file and a rename: nothing else is left next to it.
    expect(readdirSync(join(dataPath, '..'))).toEqual(['store.json']);
  });

  it('--memory keeps nothing: the next start is empty; the default is .data/store.json', async () => {
    const first = await startServer({ dataPath: undefined });
    const [event] = invoiceLifecycleEvents({ id: 'in_1LocalMemory' }, 'paid');
    expect((await postEvent(first.routerUrl, event)).status).toBe(200);
    await first.close();
    const second = await startServer({ dataPath: undefined });
    expect(second.restored).toBeUndefined();
    expect(await readType<Invoice>(second, 'Invoice')).toEqual([]);

    expect(parseStartArgs(['--memory'], {})).toMatchObject({ dataPath: undefined, port: 8103 });
    expect(parseStartArgs([], {})).toMatchObject({ dataPath: '.data/store.json', port: 8103 });
    expect(parseStartArgs(['--data', 'x.json', '--port', '0'], { PORT: '9000' })).toMatchObject({
      dataPath: 'x.json',
      port: 0,
    });
    expect(parseStartArgs([], { PORT: '9000' }).port).toBe(9000);
    expect(() => parseStartArgs(['--memory', '--data', 'x.json'], {})).toThrow(/exclude each other/);
    expect(() => parseStartArgs(['--port', 'http'], {})).toThrow(/port number/);
  });

  it('refuses a file that is not a store, saying what to do', async () => {
    const dir = temporaryDirectory();
    const dataPath = join(dir, 'store.json');
    writeFileSync(dataPath, '{"hello": "world"}');
    await expect(startServer({ dataPath })).rejects.toThrow(/not a store file/);
    writeFileSync(dataPath, 'not json');
    await expect(startServer({ dataPath })).rejects.toThrow(/move it away or pass --data/);
  });
});
