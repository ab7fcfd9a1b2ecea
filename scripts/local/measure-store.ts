/**
 * How the local server's cost per event grows with the store (docs/design.md, "Performance"): posts invoice
 * lifecycles to an in-process `npm start` server over HTTP and prints the CPU per event, per 500
 * events, with identifier searches answered by the index or by Medplum's scan, in memory or saved
 * to a file after every event. CPU time, not wall time, so a busy machine does not skew it.
 *
 *   npx tsx scripts/local/measure-store.ts [--events 4000] [--scan] [--data PATH]
 */
import { parseArgs } from 'node:util';
import { invoiceLifecycleEvents, signatureHeader, stripeBody } from '../../lib/stripe-events/events';
import { startLocalServer } from './server';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '4000' },
    every: { type: 'string', default: '500' },
    scan: { type: 'boolean', default: false },
    data: { type: 'string' },
  },
});
const total = Number(values.events);
const every = Number(values.every);
const secret = 'whsec_measure';
const server = await startLocalServer({
  port: 0,
  webhookSecret: secret,
  indexTokens: !values.scan,
  ...(values.data !== undefined && { dataPath: values.data }),
  log: () => undefined,
  onEvent: () => undefined,
});
const events = [];
for (let i = 0; events.length < total; i++) {
  events.push(...invoiceLifecycleEvents({ id: `in_measure${i}` }, 'paid', { start: 1_760_000_000 + i * 10 }));
}
const mode = `${values.scan ? 'scan' : 'index'}${values.data ? ' + file' : ''}`;
let last = process.cpuUsage();
for (let i = 0; i < total; i++) {
  const body = stripeBody(events[i]);
  const response = await fetch(server.routerUrl, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'stripe-signature': signatureHeader(body, secret) },
  });
  if (response.status !== 200) {
    throw new Error(`event ${i} answered ${response.status}: ${await response.text()}`);
  }
  await response.arrayBuffer();
  if ((i + 1) % every === 0) {
    const now = process.cpuUsage();
    const ms = (now.user - last.user + now.system - last.system) / 1000;
    process.stdout.write(`${mode}: events ${i + 2 - every}–${i + 1}: ${(ms / every).toFixed(1)} ms CPU per event\n`);
    last = now;
  }
}
await server.close();
