import type { Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { BOT_NAME } from '../../src/constants';
import { invoiceLifecycleEvents, signatureHeader, stripeBody } from '../../lib/stripe-events/events';
import { getJson, outcomeText, postEvent, readType, SECRET, startServer } from './helpers';

describe('npm start: bad requests get a 4xx that says what to fix', () => {
  it('a body that is not JSON: 400', async () => {
    const server = await startServer();
    const answer = await postEvent(server.routerUrl, undefined, { body: 'event=invoice.paid' });
    expect(answer.status).toBe(400);
    expect(outcomeText(answer.body)).toMatch(/Invalid JSON body.*must be a Stripe event, as JSON/);
    expect(server.lines).toEqual(['(no type) → rejected 400']);
  });

  it('a wrong path: 404 naming the right URL', async () => {
    const server = await startServer();
    for (const path of ['/webhook', '/fhir/R4/Bot/not-a-bot/$execute', '/stripe/events']) {
      const answer = await getJson(`${server.baseUrl}${path}`, { method: 'POST', body: '{}' });
      expect(answer.status, path).toBe(404);
      expect(outcomeText(answer.body), path).toContain(server.routerUrl);
    }
  });

  it('another bot than the router: 403, naming the router URL', async () => {
    const server = await startServer();
    const invoiceBot = server.embedded.botId(BOT_NAME.invoice);
    const answer = await getJson(`${server.baseUrl}/fhir/R4/Bot/${invoiceBot}/$execute`, {
      method: 'POST',
      body: '{}',
    });
    expect(answer.status).toBe(403);
    expect(outcomeText(answer.body)).toContain(server.routerUrl);
  });

  it('a bad signature: 400 with the router reason and what to set', async () => {
    const server = await startServer();
    const [event] = invoiceLifecycleEvents({ id: 'in_1LocalBadSignature' }, 'paid');
    const answer = await postEvent(server.routerUrl, event, { secret: 'whsec_not_the_one' });
    expect(answer.status).toBe(400);
    const text = outcomeText(answer.body);
    expect(text).toContain('Stripe signature rejected');
    expect(text).toContain('STRIPE_WEBHOOK_SECRET is the secret `stripe listen` printed');
    expect(await readType<Invoice>(server, 'Invoice')).toEqual([]);
  });

  it('a stale signature: 400 saying to resend the event, not to change the secret', async () => {
    const server = await startServer();
    const [event] = invoiceLifecycleEvents({ id: 'in_1LocalStale' }, 'paid');
    const body = stripeBody(event);
    const stale = signatureHeader(body, SECRET, Math.floor(Date.now() / 1000) - 3600);
    const answer = await postEvent(server.routerUrl, event, { body, headers: { 'stripe-signature': stale } });
    expect(answer.status).toBe(400);
    const text = outcomeText(answer.body);
    expect(text).toMatch(/stale/);
    expect(text).toMatch(/stripe events resend/);
    expect(text).not.toMatch(/STRIPE_WEBHOOK_SECRET is the secret/);
  });

  it('a misspelt search type or parameter: 400 naming it, not an empty Bundle', async () => {
    const server = await startServer();
    const [event] = invoiceLifecycleEvents({ id: 'in_1LocalSearch' }, 'paid');
    expect((await postEvent(server.routerUrl, event)).status).toBe(200);
    const typo = await getJson(`${server.baseUrl}/fhir/R4/Invoice?identifer=x`);
    expect(typo.status).toBe(400);
    expect(outcomeText(typo.body)).toMatch(/Unknown search parameter "identifer" for Invoice; known: .*identifier/);
    const plural = await getJson(`${server.baseUrl}/fhir/R4/Invoices`);
    expect(plural.status).toBe(400);
    expect(outcomeText(plural.body)).toMatch(/Unknown resource type "Invoices"/);
    const fine = await getJson<{ total?: number; entry?: unknown[] }>(
      `${server.baseUrl}/fhir/R4/Invoice?identifier=https://stripe.com/invoice/id|in_1LocalSearch&_count=5&status:not=cancelled`
    );
    expect(fine.status).toBe(200);
    expect(fine.body.entry).toHaveLength(1);
  });

  it('without STRIPE_WEBHOOK_SECRET, signed events are rejected with that cause named', async () => {
    const server = await startServer({ webhookSecret: undefined });
    const [event] = invoiceLifecycleEvents({ id: 'in_1LocalNoSecret' }, 'paid');
    const answer = await postEvent(server.routerUrl, event, { secret: SECRET });
    expect(answer.status).toBe(400);
    expect(outcomeText(answer.body)).toContain('STRIPE_WEBHOOK_SECRET is not set');
  });

  it('no signature at all: 400, saying events must come signed', async () => {
    const server = await startServer();
    const [event] = invoiceLifecycleEvents({ id: 'in_1LocalUnsigned' }, 'paid');
    const answer = await postEvent(server.routerUrl, event, { unsigned: true });
    expect(answer.status).toBe(400);
    expect(outcomeText(answer.body)).toMatch(/No Stripe-Signature header.*stripe listen --forward-to/);
    // An empty header is a missing one.
    const empty = await postEvent(server.routerUrl, event, { headers: { 'stripe-signature': '' } });
    expect(empty.status).toBe(400);
    expect(outcomeText(empty.body)).toMatch(/Missing Stripe-Signature header.*stripe listen --forward-to/);
    expect(await readType<Invoice>(server, 'Invoice')).toEqual([]);
  });

  it('a write other than $execute: 405; $execute with GET: 405', async () => {
    const server = await startServer();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const answer = await getJson(`${server.baseUrl}/fhir/R4/Invoice`, { method, body: '{}' });
      expect(answer.status, method).toBe(405);
      expect(outcomeText(answer.body), method).toMatch(/read-only over HTTP/);
    }
    const get = await getJson(server.routerUrl);
    expect(get.status).toBe(405);
    expect(outcomeText(get.body)).toMatch(/takes POST/);
  });

  it('a body over 2 MiB: 413', async () => {
    const server = await startServer();
    const answer = await postEvent(server.routerUrl, undefined, { body: 'x'.repeat(2 * 1024 * 1024 + 1) });
    expect(answer.status).toBe(413);
  });
});
