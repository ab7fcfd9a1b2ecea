import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Bundle, Communication, Patient, Resource } from '@medplum/fhirtypes';
import { Operator } from '@medplum/core';
import { signatureHeader, stripeBody } from '../../lib/stripe-events/signature';
import type { StripeEvent, StripeObject } from '../../src/stripe/types';
import type { DemoStream } from './demo-stream';
import { requestDemoPayment } from './demo-payment-request';
import { startLocalServer, type EventLine, type LocalServer } from './server';
import { archiveSummary, formatTable, patientLinkSummary, resourceRow, shortId, TABLE_TYPES } from './table';

export const DEMO_STREAM_PATH = resolve(import.meta.dirname, '..', '..', 'demo', 'stream.json');

export interface DemoOptions {
  readonly streamPath?: string;
  /** Keep the result in this store file (default: memory only). */
  readonly dataPath?: string;
  /** Where the output goes (default: stdout). */
  readonly out?: (line: string) => void;
  /** Let the bots' own JSON logs through. */
  readonly verbose?: boolean;
}

export interface DemoResult {
  /** Every delivery's HTTP answer, in the order they were made. */
  readonly deliveries: readonly { readonly eventId: string; readonly status: number; readonly body: unknown }[];
  /** The stored resources, read back over HTTP, by type. */
  readonly resources: Readonly<Record<string, readonly Resource[]>>;
  /** What the process should exit with: 0 when every delivery answered 200. */
  readonly exitCode: number;
}

export function readDemoStream(path = DEMO_STREAM_PATH): DemoStream {
  return JSON.parse(readFileSync(path, 'utf8')) as DemoStream;
}

/**
 * `npm run demo`: starts the local server on a free port (as `npm start` does, in memory), posts the
 * bundled stream to it over HTTP as Stripe would (signed with a secret made up for the run, waves of
 * concurrent posts, shuffled, with redeliveries), then reads the resources back over HTTP and
 * prints them as a table, with a line counting what is linked to each demo Patient.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const stream = readDemoStream(options.streamPath);
  const secret = `whsec_demo${randomBytes(16).toString('hex')}`;
  const events = new Map(stream.events.map((e) => [e.id, e] as const));
  let delivered = 0;
  const total = stream.delivery.flat().length;
  const server = await startLocalServer({
    port: 0,
    dataPath: options.dataPath,
    webhookSecret: secret,
    verbose: options.verbose,
    log: out,
    onEvent: (line) => out(demoEventLine(++delivered, total, line)),
  });
  try {
    for (const patient of stream.patients) {
      await seedOnce(server, patient);
    }
    out(`Local server on ${server.baseUrl}; bots: ${server.bots.map((b) => b.name).join(', ')}`);
    out(
      `Delivering ${stream.events.length} Stripe events as ${total} signed posts in ${stream.delivery.length} waves ` +
        `(shuffled, ${total - stream.events.length} redelivered, each wave posted at once) to`
    );
    out(`  ${server.routerUrl}`);
    out('');

    const deliveries: { eventId: string; status: number; body: unknown }[] = [];
    for (const wave of stream.delivery) {
      const answers = await Promise.all(
        wave.map(async (eventId) => {
          const event = events.get(eventId);
          if (!event) {
            throw new Error(`demo/stream.json delivers ${eventId}, which its events do not hold`);
          }
          return { eventId, ...(await post(server.routerUrl, event, secret)) };
        })
      );
      deliveries.push(...answers);
    }

    const resources: Record<string, Resource[]> = {};
    for (const type of [...TABLE_TYPES, 'Communication']) {
      resources[type] = await readAll(server.baseUrl, type);
    }
    out('');
    out('Resulting FHIR resources (ids shortened to 8 characters; read back with GET /fhir/R4/<Type>):');
    out('');
    out(formatTable(TABLE_TYPES.flatMap((type) => (resources[type] ?? []).map(resourceRow))));
    out(archiveSummary((resources.Communication ?? []) as Communication[]));
    const tableResources = TABLE_TYPES.flatMap((type) => resources[type] ?? []);
    const patients = (resources.Patient ?? []) as Patient[];
    out('');
    for (const patient of stream.patients) {
      out(patientLinkSummary(tableResources, `Patient/${patient.id}`));
    }

    const failed = deliveries.filter((d) => d.status !== 200);
    const outcomes = new Map<string, number>();
    for (const d of deliveries) {
      const outcome = d.status === 200 ? String((d.body as { outcome?: string }).outcome) : `HTTP ${d.status}`;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    out('');
    out(`Deliveries: ${[...outcomes].map(([o, n]) => `${n} ${o}`).join(', ')}.`);
    if (failed.length) {
      out(`${failed.length} deliveries failed: Stripe would retry them. See the lines marked "rejected" above.`);
    }
    if (options.dataPath) {
      out(`Kept in ${options.dataPath}: \`npm start -- --data ${options.dataPath}\` serves it.`);
    }
    // As stored now: the customer's claim gave the Patient its Stripe customer id.
    const demoPatients = stream.patients.map((p) => patients.find((stored) => stored.id === p.id) ?? p);
    await requestDemoPayment(server, demoPatients, out);
    return { deliveries, resources, exitCode: failed.length ? 1 : 0 };
  } finally {
    await server.close();
  }
}

function demoEventLine(n: number, total: number, line: EventLine): string {
  const counter = `[${String(n).padStart(String(total).length)}/${total}]`;
  const what = `${line.type ?? '?'}`.padEnd(30);
  if (line.status !== 200) {
    return `${counter} ${what} → rejected ${line.status}: ${line.reason ?? ''}`;
  }
  const resources = (line.resources ?? []).map((r) => {
    const [type, id] = r.split('/');
    return `${type}/${shortId(id)}`;
  });
  return `${counter} ${what} → ${(line.outcome ?? '').padEnd(9)} → ${resources.join(', ') || '—'}`;
}

async function post(
  url: string,
  event: StripeEvent<StripeObject>,
  secret: string
): Promise<{ status: number; body: unknown }> {
  const body = stripeBody(event);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      'stripe-signature': signatureHeader(body, secret),
    },
    body,
  });
  return { status: response.status, body: await response.json() };
}

async function readAll(baseUrl: string, type: string): Promise<Resource[]> {
  const response = await fetch(`${baseUrl}/fhir/R4/${type}?_count=1000`);
  if (!response.ok) {
    throw new Error(`GET ${type} answered ${response.status}: ${await response.text()}`);
  }
  const bundle = (await response.json()) as Bundle;
  return (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
}

/**
 * The stream's Patients, stored under their own ids (the events name them by id), unless a kept store
 * (`--data`) already has them.
 */
async function seedOnce(server: LocalServer, patient: Patient): Promise<void> {
  if (!patient.id) {
    throw new Error('demo/stream.json holds a Patient without an id: the events could not name it');
  }
  const stored = await server.embedded.repo.searchOne({
    resourceType: 'Patient',
    filters: [{ code: '_id', operator: Operator.EQUALS, value: patient.id }],
  });
  if (!stored) {
    await server.embedded.seed(patient);
    await server.save();
  }
}
