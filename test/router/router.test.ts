import type { Communication, Invoice } from '@medplum/fhirtypes';
import { Buffer } from 'node:buffer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import { MAX_EVENT_BODY_LENGTH } from '../../src/router/envelope';
import { loadStripeFixture } from '../../lib/stripe-events/fixtures';
import { createTestProject, OPERATOR, STRIPE_CLIENT, WEBHOOK_SECRET } from '../harness/project';
import { invoiceLifecycleEvents, signatureHeader, stripeBody, wrapEvent } from '../../lib/stripe-events/events';

const [createdEvent, , finalizedEvent] = invoiceLifecycleEvents({ id: 'in_1Router' }, 'paid');
const draft = createdEvent!;
const finalized = finalizedEvent!;

function captureLogs(): { text: () => string } {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  return { text: () => lines.join('\n') };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('router: who may post', () => {
  it('accepts a Stripe-signed event that reaches the bot parsed, and archives it without headers', async () => {
    const project = await createTestProject();
    const logs = captureLogs();
    const { status, result } = await project.deliver(draft);
    expect(status).toBe(200);
    expect(result).toEqual({
      eventId: draft.id,
      type: 'invoice.created',
      outcome: 'processed',
      target: BOT_NAME.invoice,
      resources: [expect.stringMatching(/^Invoice\//)],
    });
    expect(logs.text()).toContain('reserialized-json');
    const [archive] = await project.server.all<Communication>('Communication');
    expect(archive).toMatchObject({
      status: 'completed',
      identifier: [{ system: STRIPE_SYSTEM.event, value: draft.id }],
      category: [{ coding: [{ system: STRIPE_SYSTEM.eventType, code: 'invoice.created' }] }],
      sent: new Date(draft.created * 1000).toISOString().replace('.000Z', 'Z'),
      about: [{ reference: result.resources[0] }],
    });
    expect(archive?.subject).toBeUndefined();
    expect(archive?.recipient).toBeUndefined();
    const payload = Buffer.from(archive?.payload?.[0]?.contentAttachment?.data ?? '', 'base64').toString('utf8');
    expect(JSON.parse(payload)).toEqual(JSON.parse(stripeBody(draft)));
    expect(JSON.stringify(archive)).not.toMatch(/authorization|stripe-signature|Basic /i);
  });

  it('verifies the raw body as is when the bot has rawBody (Medplum ≥ 5.2)', async () => {
    const project = await createTestProject({ rawBody: true });
    const logs = captureLogs();
    const { status, result } = await project.deliver(draft);
    expect(status).toBe(200);
    expect(result.outcome).toBe('processed');
    expect(logs.text()).toContain('raw-body');
  });

  it('rejects a wrong secret, archives nothing and writes no Invoice', async () => {
    const project = await createTestProject();
    const { status, body } = await project.deliver(draft, { secret: 'whsec_not_ours' });
    expect(status).toBe(400);
    expect(JSON.stringify(body)).toMatch(/No signatures found matching|signature/i);
    expect(await project.server.all('Communication')).toHaveLength(0);
    expect(await project.server.all('Invoice')).toHaveLength(0);
  });

  it('accepts either secret while secrets rotate', async () => {
    const project = await createTestProject();
    project.server.setSecret('STRIPE_WEBHOOK_SECRET', `whsec_brand_new_secret, ${WEBHOOK_SECRET}`);
    expect((await project.deliver(draft)).status).toBe(200);
    expect((await project.deliver(finalized, { secret: 'whsec_brand_new_secret' })).status).toBe(200);
  });

  it('rejects a stale timestamp', async () => {
    const project = await createTestProject();
    const { status, body } = await project.deliver(draft, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(status).toBe(400);
    expect(JSON.stringify(body)).toMatch(/stale|tolerance/i);
  });

  it('rejects a tampered raw body', async () => {
    const project = await createTestProject({ rawBody: true });
    const body = stripeBody(draft);
    const header = signatureHeader(body, WEBHOOK_SECRET);
    const tampered = body.replace('"total": 5000', '"total": 1');
    expect(tampered).not.toBe(body);
    const response = await project.server.execute(BOT_NAME.router, tampered, {
      headers: { 'stripe-signature': header },
      requester: STRIPE_CLIENT,
    });
    expect(response.status).toBe(400);
    expect(await project.server.all('Invoice')).toHaveLength(0);
  });

  it('names the cause and the cure when a parsed body cannot reproduce Stripe’s bytes', async () => {
    const withFloat = stripeBody(draft).replace('"total": 5000', '"total": 5000.0');
    const parsed = await createTestProject();
    const rejected = await parsed.deliver(draft, { body: withFloat });
    expect(rejected.status).toBe(400);
    expect(JSON.stringify(rejected.body)).toMatch(/rawBody/);
    expect(JSON.stringify(rejected.body)).toMatch(/backfill/);
    const raw = await createTestProject({ rawBody: true });
    expect((await raw.deliver(draft, { body: withFloat })).status).toBe(200);
  });

  it('rejects an unsigned request from the webhook client', async () => {
    const project = await createTestProject();
    const response = await project.server.execute(BOT_NAME.router, stripeBody(draft), { requester: STRIPE_CLIENT });
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).toMatch(/STRIPE_OPERATORS/);
    expect(await project.server.all('Communication')).toHaveLength(0);
  });

  it('accepts an unsigned replay from an operator, and re-runs the target even when already completed', async () => {
    const project = await createTestProject();
    await project.deliver(draft);
    const invoiceBot = `Bot/${project.server.botId(BOT_NAME.invoice)}`;
    const before = project.server.requestsBy(invoiceBot).length;
    const { status, result } = await project.replay(draft);
    expect(status).toBe(200);
    expect(result.outcome).toBe('processed');
    expect(project.server.requestsBy(invoiceBot).length).toBeGreaterThan(before);
    expect(await project.server.all('Invoice')).toHaveLength(1);
  });

  it('rejects an unsigned request when no operators are configured', async () => {
    const project = await createTestProject();
    project.server.setSecret('STRIPE_OPERATORS', undefined);
    expect((await project.replay(draft)).status).toBe(400);
    expect(OPERATOR).toMatch(/^Practitioner\//);
  });

  it('rejects a malformed PAYEE_ORGANIZATION with a message that says what to set', async () => {
    const project = await createTestProject();
    project.server.setSecret('PAYEE_ORGANIZATION', 'Springfield Clinic');
    const { status, body } = await project.deliver(draft);
    expect(status).toBe(400);
    expect(JSON.stringify(body)).toMatch(/PAYEE_ORGANIZATION must be a reference/);
  });
});

describe('router: duplicates', () => {
  it('answers duplicate for a redelivery of a completed event: the target runs again and changes nothing', async () => {
    const project = await createTestProject();
    const first = await project.deliver(draft);
    const [invoice] = await project.server.all<Invoice>('Invoice');
    const invoiceBot = `Bot/${project.server.botId(BOT_NAME.invoice)}`;
    const before = project.server.requestsBy(invoiceBot).length;
    const second = await project.deliver(draft);
    expect(second.result).toMatchObject({ outcome: 'duplicate', resources: first.result.resources });
    // The archive is written once, after the dispatch: only its conditional create tells a redelivery.
    expect(project.server.requestsBy(invoiceBot).length).toBeGreaterThan(before);
    const [again] = await project.server.all<Invoice>('Invoice');
    expect(again?.meta?.versionId).toBe(invoice?.meta?.versionId);
    const archives = await project.server.all<Communication>('Communication');
    expect(archives).toHaveLength(1);
    expect(archives[0]?.status).toBe('completed');
  });

  it('answers duplicate for a redelivery of an event no bot handles', async () => {
    const project = await createTestProject();
    const event = wrapEvent('product.created', { object: 'product', id: 'prod_1Unrouted' }, { created: 1_760_000_000 });
    expect((await project.deliver(event)).result.outcome).toBe('ignored');
    const again = await project.deliver(event);
    expect(again.status).toBe(200);
    expect(again.result).toMatchObject({ outcome: 'duplicate', resources: [] });
    expect(again.result.reason).toMatch(/already archived.*no bot handles product\.created/);
    expect(await project.server.all('Communication')).toHaveLength(1);
  });
});

describe('router: events it does not handle', () => {
  async function expectIgnored(
    event: unknown,
    reason: RegExp,
    setup?: (p: Awaited<ReturnType<typeof createTestProject>>) => void
  ) {
    const project = await createTestProject();
    setup?.(project);
    const { status, result } = await project.deliver(event);
    expect(status).toBe(200);
    expect(result.outcome).toBe('ignored');
    expect(result.reason).toMatch(reason);
    expect(await project.server.all<Invoice>('Invoice')).toHaveLength(0);
    const archives = await project.server.all<Communication>('Communication');
    expect(archives).toHaveLength(1);
    expect(archives[0]?.status).toBe('completed');
    expect(archives[0]?.note?.[0]?.text).toMatch(reason);
  }

  it('ignores an unknown type (a real captured event, its type changed to one no bot handles)', async () => {
    // customer.updated itself now reaches stripe-customer (test/customer covers this capture).
    const event = { ...loadStripeFixture('stripe-dotnet', 'customer_updated.event'), type: 'product.updated' };
    await expectIgnored(event, /no bot handles product\.updated/);
  });

  it('ignores invoice.upcoming, which has no id', async () => {
    const upcoming = { ...draft.data.object, id: undefined };
    await expectIgnored(wrapEvent('invoice.upcoming', upcoming), /upcoming/);
  });

  it('ignores a thin v2.core.event', async () => {
    const thin = {
      id: 'evt_test_65R9Ijk8nmQhK4sSy3Qe6k1S',
      object: 'v2.core.event',
      type: 'v1.billing.meter.error_report_triggered',
      created: new Date().toISOString(),
      livemode: false,
      related_object: { id: 'mtr_test_1', type: 'billing.meter', url: '/v1/billing/meters/mtr_test_1' },
    };
    await expectIgnored(thin, /thin event/);
  });

  it('ignores the other livemode', async () => {
    await expectIgnored(draft, /test mode.*only live/, (p) => p.server.setSecret('STRIPE_LIVEMODE', true));
  });
});

describe('router: bad input', () => {
  async function expectRejected(body: string, message: RegExp, rawBody = true) {
    const project = await createTestProject({ rawBody });
    const logs = captureLogs();
    const response = await project.server.execute(BOT_NAME.router, body, {
      headers: { 'stripe-signature': signatureHeader(body, WEBHOOK_SECRET), 'content-type': 'application/json' },
      requester: STRIPE_CLIENT,
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).toMatch(message);
    expect(await project.server.all('Communication')).toHaveLength(0);
    expect(await project.server.all('Invoice')).toHaveLength(0);
    expect(logs.text()).not.toContain(body.slice(0, 40));
  }

  it('rejects a body that is not JSON', async () => {
    await expectRejected('this is not json', /not JSON/);
  });

  it('rejects JSON without a type', async () => {
    const { type: _type, ...rest } = draft;
    await expectRejected(stripeBody(rest), /has no type/);
  });

  it('rejects JSON without data.object', async () => {
    await expectRejected(stripeBody({ ...draft, data: {} }), /no data\.object/);
  });

  it('rejects a huge payload', async () => {
    const huge = {
      ...draft,
      data: { object: { ...draft.data.object, description: 'x'.repeat(MAX_EVENT_BODY_LENGTH) } },
    };
    await expectRejected(stripeBody(huge), /larger than/);
  });
});

describe('router: logs', () => {
  it('never logs secrets, headers or the payload', async () => {
    const project = await createTestProject();
    const logs = captureLogs();
    await project.deliver(draft);
    await project.deliver(finalized, { secret: 'whsec_wrong_one' });
    const text = logs.text();
    expect(text).toContain(draft.id);
    for (const secret of [
      WEBHOOK_SECRET,
      'whsec_wrong_one',
      'Basic c3RyaXBlOnNlY3JldA==',
      'v1=',
      'Monthly care plan',
    ]) {
      expect(text).not.toContain(secret);
    }
  });
});
