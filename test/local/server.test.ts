import type { Bot, Communication, Invoice, Organization, Patient } from '@medplum/fhirtypes';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBotEntries } from '../../scripts/bot-config';
import { BOT_IDENTIFIER_SYSTEM, BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import { invoiceLifecycleEvents } from '../../lib/stripe-events/events';
import { getJson, postEvent, readType, SECRET, startServer, temporaryDirectory } from './helpers';

const CUSTOMER = 'cus_TestPatient1';

describe('npm start: the local server', () => {
  it('runs a signed invoice lifecycle through router and bot, and serves the result over GET', async () => {
    const server = await startServer();
    const patient = await server.embedded.seed<Patient>({
      resourceType: 'Patient',
      identifier: [{ system: STRIPE_SYSTEM.customer, value: CUSTOMER }],
    });
    const events = invoiceLifecycleEvents({ id: 'in_1LocalPaid' }, 'paid');
    for (const event of events) {
      const answer = await postEvent(server.routerUrl, event);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body).toMatchObject({ eventId: event.id, type: event.type, outcome: 'processed' });
    }
    // One line per event: type → outcome.
    expect(server.lines).toEqual(events.map((e) => `${e.type} → processed`));

    const query = encodeURIComponent(`${STRIPE_SYSTEM.invoice}|in_1LocalPaid`);
    const invoices = await readType<Invoice>(server, 'Invoice', `&identifier=${query}`);
    expect(invoices).toHaveLength(1);
    const invoice = invoices[0] as Invoice;
    expect(invoice).toMatchObject({
      status: 'balanced',
      subject: { reference: `Patient/${patient.id}` },
      issuer: { reference: `Organization/${server.project.payee.id}` },
      totalGross: { value: 50, currency: 'USD' },
    });
    const read = await getJson<Invoice>(`${server.baseUrl}/fhir/R4/Invoice/${invoice.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(invoice);
    const archives = await readType<Communication>(server, 'Communication');
    expect(archives.map((a) => a.status)).toEqual(events.map(() => 'completed'));
  });

  it('answers on the identifier form of the URL, as Medplum does', async () => {
    const server = await startServer();
    expect(server.routerIdentifierUrl).toBe(
      `${server.baseUrl}/fhir/R4/Bot/$execute?identifier=${encodeURIComponent(`${BOT_IDENTIFIER_SYSTEM}|${BOT_NAME.router}`)}`
    );
    const [event] = invoiceLifecycleEvents({ id: 'in_1LocalIdentifierUrl' }, 'voided');
    const answer = await postEvent(server.routerIdentifierUrl, event);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.outcome).toBe('processed');
    expect(await readType<Invoice>(server, 'Invoice')).toHaveLength(1);
  });

  it('registers every bot of medplum.config.json from its source, and sets up the project as setup would', async () => {
    const server = await startServer();
    expect(server.bots.map((b) => b.name)).toEqual(readBotEntries().map((e) => e.name));
    expect(server.botFailures).toEqual([]);
    const bots = await readType<Bot>(server, 'Bot');
    expect(bots.map((b) => b.identifier?.[0]?.value).sort()).toEqual(
      readBotEntries()
        .map((e) => e.name)
        .sort()
    );
    expect(server.routerUrl).toBe(`${server.baseUrl}/fhir/R4/Bot/${server.embedded.botId(BOT_NAME.router)}/$execute`);
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const organizations = await readType<Organization>(server, 'Organization');
    expect(organizations.map((o) => o.id)).toEqual([server.project.payee.id]);
    expect(server.embedded.secrets).toEqual({
      STRIPE_WEBHOOK_SECRET: { name: 'STRIPE_WEBHOOK_SECRET', valueString: SECRET },
      PAYEE_ORGANIZATION: { name: 'PAYEE_ORGANIZATION', valueString: `Organization/${server.project.payee.id}` },
      STRIPE_OPERATORS: { name: 'STRIPE_OPERATORS', valueString: `Practitioner/${server.project.operator.id}` },
    });
  });

  it('a bot whose source cannot be loaded is reported, and the others still run', async () => {
    const dir = temporaryDirectory();
    const config = join(dir, 'medplum.config.json');
    const bots = readBotEntries().map((e) => ({ ...e, source: resolve(e.source) }));
    bots.push({ name: 'stripe-missing', id: '', source: join(dir, 'missing.ts'), dist: 'dist/missing.js' });
    writeFileSync(config, JSON.stringify({ bots }));
    const server = await startServer({ configPath: config });
    expect(server.botFailures.map((f) => f.name)).toEqual(['stripe-missing']);
    expect(server.bots.map((b) => b.name)).toEqual(readBotEntries().map((e) => e.name));
  });

  it('concurrent deliveries of one invoice make one Invoice', async () => {
    const server = await startServer();
    const events = invoiceLifecycleEvents({ id: 'in_1LocalBurst' }, 'paid', { gaps: [0, 0, 0, 0, 0] });
    const answers = await Promise.all([...events, ...events].map((event) => postEvent(server.routerUrl, event)));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const invoices = await readType<Invoice>(server, 'Invoice');
    expect(invoices).toHaveLength(1);
    expect(invoices[0]?.status).toBe('balanced');
    expect(server.embedded.repo.rejected).toEqual([]);
  });

  it('signs with the secret given at start only: another secret is rejected', async () => {
    const server = await startServer();
    const [event] = invoiceLifecycleEvents({ id: 'in_1LocalOtherSecret' }, 'paid');
    const answer = await postEvent(server.routerUrl, event, { secret: `${SECRET}x` });
    expect(answer.status).toBe(400);
    expect(await readType<Invoice>(server, 'Invoice')).toEqual([]);
  });
});
