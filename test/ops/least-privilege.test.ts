import { accessPolicySupportsInteraction, satisfiedAccessPolicy } from '@medplum/core';
import type { AccessPolicy, Account, Bot, Patient, ResourceType } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import {
  BOT_ACCESS,
  botAccessPolicy,
  requiredAccess,
  routerTargets,
  STAFF_CALLED_BOTS,
  webhookClientPolicy,
  type RequiredAccess,
} from '../../scripts/ops/access-policies';
import { BOT_IDENTIFIER_SYSTEM, BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import { customerEvent, sessionEvent } from '../../lib/stripe-events/customer';
import type { StripeEvent } from '../../src/stripe/types';
import { recordCalls, type RecordedCall } from './helpers';
import { createTestProject, STRIPE_CLIENT, type TestProject } from '../harness/project';
import {
  buildCharge,
  buildInvoicePayment,
  buildPaymentIntent,
  buildRefund,
  invoiceLifecycleEvents,
  scheduleLifecycleEvents,
  scheduleSubscriptionId,
  wrapShapedEvent,
} from '../../lib/stripe-events/events';
import { subscriptionLifecycleEvents } from '../../lib/stripe-events/subscription';

type Call = RecordedCall;

const T = 1_760_000_000;
const SCHEDULE = { id: 'sub_sched_1LeastPriv' };
const SUBSCRIPTION = scheduleSubscriptionId(SCHEDULE);

/**
 * A realistic stream for every bot: invoices of both payload shapes through their lifecycles (one
 * of a subscription, written before its schedule, so the schedule bot links it), a schedule,
 * payments (with `invoice_payment.paid`), a cancellation, refunds (pending → succeeded, and by
 * `charge.refunded`); then Stripe redelivers some, and an operator replays some.
 */
/** A schedule and its subscription whose first events name disjoint ids: the later one merges two Accounts. */
function disjoint(): StripeEvent[] {
  const schedule = { id: 'sub_sched_1LeastPriv3', subscription: 'sub_1LeastPriv3' };
  const [created, started, canceled] = scheduleLifecycleEvents(schedule, 'canceled', { start: T + 800, gaps: [5, 1] });
  const [subscription] = subscriptionLifecycleEvents({ id: 'sub_1LeastPriv3' }, 'trial', { start: T + 801 });
  return [created, subscription, started, canceled] as StripeEvent[];
}

function stream(claimant: string): StripeEvent[] {
  const refund = {
    id: 're_1LeastPriv',
    amount: 1500,
    paymentIntent: 'pi_1LeastPrivA',
    charge: 'ch_1LeastPrivA',
    created: T + 600,
  };
  const acacia = { id: 'pi_1LeastPrivB', shape: 'openapi-2025-02-24.acacia' as const, invoice: 'in_1LeastPrivB' };
  return [
    ...invoiceLifecycleEvents({ id: 'in_1LeastPrivA', subscription: SUBSCRIPTION }, 'paid', { start: T }),
    ...invoiceLifecycleEvents({ id: 'in_1LeastPrivB', shape: 'openapi-2025-02-24.acacia' }, 'uncollectible-then-paid', {
      start: T + 10,
    }),
    ...invoiceLifecycleEvents({ id: 'in_1LeastPrivC' }, 'voided', { start: T + 20 }),
    ...invoiceLifecycleEvents({ id: 'in_1LeastPrivD' }, 'deleted', { start: T + 30 }),
    ...scheduleLifecycleEvents(SCHEDULE, 'completed', { start: T + 100 }),
    ...scheduleLifecycleEvents({ id: 'sub_sched_1LeastPriv2' }, 'canceled-before-start', { start: T + 200 }),
    // The schedule's subscription, and one without schedule whose Invoice arrives first (the bot links it).
    ...subscriptionLifecycleEvents({ id: SUBSCRIPTION, schedule: SCHEDULE.id }, 'upgraded', { start: T + 101 }),
    ...invoiceLifecycleEvents({ id: 'in_1LeastPrivE', subscription: 'sub_1LeastPrivSolo' }, 'paid', { start: T + 250 }),
    ...subscriptionLifecycleEvents({ id: 'sub_1LeastPrivSolo' }, 'past-due-then-canceled', { start: T + 260 }),
    wrapShapedEvent(
      'payment_intent.created',
      buildPaymentIntent({ id: 'pi_1LeastPrivA' }, 'requires_payment_method', T + 300),
      'openapi',
      { created: T + 300 }
    ),
    wrapShapedEvent(
      'payment_intent.succeeded',
      buildPaymentIntent({ id: 'pi_1LeastPrivA' }, 'succeeded', T + 301),
      'openapi',
      { created: T + 301 }
    ),
    wrapShapedEvent(
      'invoice_payment.paid',
      buildInvoicePayment({ id: 'pi_1LeastPrivA', invoice: 'in_1LeastPrivA' }, T + 302),
      'openapi',
      { created: T + 302 }
    ),
    wrapShapedEvent('payment_intent.succeeded', buildPaymentIntent(acacia, 'succeeded', T + 400), acacia.shape, {
      created: T + 400,
    }),
    wrapShapedEvent(
      'payment_intent.canceled',
      buildPaymentIntent({ id: 'pi_1LeastPrivC' }, 'canceled', T + 500),
      'openapi',
      { created: T + 500 }
    ),
    wrapShapedEvent('refund.created', buildRefund(refund, 'pending'), 'openapi', { created: T + 600 }),
    wrapShapedEvent('refund.updated', buildRefund(refund, 'succeeded'), 'openapi', { created: T + 601 }),
    wrapShapedEvent(
      'charge.refunded',
      buildCharge(acacia, T + 700, [
        buildRefund(
          { ...refund, id: 're_1LeastPrivB', paymentIntent: acacia.id, charge: 'ch_1LeastPrivB', created: T + 700 },
          'succeeded'
        ),
      ]),
      acacia.shape,
      { created: T + 701 }
    ),
    ...patientContextStream(claimant),
    ...disjoint(),
  ] as StripeEvent[];
}

/**
 * Customers and checkout: an invoice and a payment whose customers' Accounts Medplum's sample wrote
 * (upgraded: Account update), a payment with no invoice for a new customer (Account create), a
 * Payment Link session paid after its payment (session Invoice create, payment pair re-pointed), a
 * customer without metadata (Account create), and a claim that back-fills (Patient, Account and
 * Invoice update).
 */
function patientContextStream(claimant: string): StripeEvent[] {
  const paid = (id: string, customer: string, at: number) =>
    wrapShapedEvent('payment_intent.succeeded', buildPaymentIntent({ id, customer }, 'succeeded', at), 'openapi', {
      created: at,
    });
  return [
    ...invoiceLifecycleEvents({ id: 'in_1LeastPrivE', customer: SAMPLE_CUSTOMERS[0] }, 'paid', { start: T + 800 }),
    paid('pi_1LeastPrivE', SAMPLE_CUSTOMERS[1], T + 810),
    paid('pi_1LeastPrivF', 'cus_1LeastPrivNew', T + 820),
    paid('pi_1LeastPrivG', 'cus_1LeastPrivClaim', T + 830),
    sessionEvent(
      { id: 'cs_test_1LeastPrivG', customer: 'cus_1LeastPrivClaim', paymentIntent: 'pi_1LeastPrivG' },
      'paid',
      {
        created: T + 831,
      }
    ),
    ...invoiceLifecycleEvents({ id: 'in_1LeastPrivH', customer: 'cus_1LeastPrivClaim' }, 'paid', { start: T + 840 }),
    customerEvent('customer.created', { id: 'cus_1LeastPrivFresh' }, { created: T + 850 }),
    customerEvent(
      'customer.created',
      { id: 'cus_1LeastPrivClaim', metadata: { medplum_patient_id: claimant } },
      {
        created: T + 860,
      }
    ),
  ] as StripeEvent[];
}

/** Customers whose billing Account Medplum's sample bot wrote before ours ran. */
const SAMPLE_CUSTOMERS = ['cus_1LeastPrivSampleI', 'cus_1LeastPrivSampleP'] as const;

interface RunResult {
  readonly project: TestProject;
  readonly calls: Call[];
  readonly botIds: Record<string, string>;
}

let run: Promise<RunResult> | undefined;

/** Runs the stream once for every test of this file. */
function runStream(): Promise<RunResult> {
  run ??= (async () => {
    const project = await createTestProject();
    const claimant = await project.server.seed<Patient>({ resourceType: 'Patient', name: [{ family: 'Claimant' }] });
    for (const customer of SAMPLE_CUSTOMERS) {
      await project.server.seed<Account>({
        resourceType: 'Account',
        status: 'active',
        identifier: [{ system: STRIPE_SYSTEM.sampleCustomerAccount, value: customer }],
      });
    }
    const calls = recordCalls(project.server);
    const events = stream(claimant.id);
    for (const event of events) {
      const response = await project.deliver(event);
      expect(response.status, `${event.type} ${JSON.stringify(response.body)}`).toBe(200);
    }
    for (const event of events.slice(0, 8)) {
      expect((await project.deliver(event)).result.outcome).toBe('duplicate');
      expect((await project.replay(event)).status).toBe(200);
    }
    // A configuration typo stops one event (its archive is written `stopped`); once fixed, the
    // redelivery brings that archive to `completed` (the router's update of an archive).
    const payee = project.server.secrets.PAYEE_ORGANIZATION?.valueString;
    project.server.setSecret('PAYEE_ORGANIZATION', 'not-a-reference');
    const late = invoiceLifecycleEvents({ id: 'in_1LeastPrivE' }, 'paid', { start: T + 800 })[0] as StripeEvent;
    expect((await project.deliver(late)).status).toBe(400);
    project.server.setSecret('PAYEE_ORGANIZATION', payee);
    expect((await project.deliver(late)).result.outcome).toBe('processed');
    const botIds = Object.fromEntries(Object.keys(BOT_ACCESS).map((name) => [name, project.server.botId(name)]));
    return { project, calls, botIds };
  })();
  return run;
}

function policyFor(name: string, botIds: Record<string, string>): AccessPolicy {
  const targets = routerTargets(Object.keys(botIds)).map((n) => botIds[n] as string);
  return botAccessPolicy(name, { targetBotIds: targets });
}

/** The requests of `caller` that `policy` does not allow, as `METHOD path → interaction on type`. */
async function violations(result: RunResult, caller: string, policy: AccessPolicy): Promise<string[]> {
  const found: string[] = [];
  for (const call of result.calls.filter((c) => c.caller === caller)) {
    for (const access of requiredAccess(call)) {
      if (!allows(policy, access) || !(await allowsBot(result, policy, call, access))) {
        found.push(`${call.method} ${call.path} → ${access.interaction} ${access.resourceType}`);
      }
    }
  }
  return found;
}

function allows(policy: AccessPolicy, access: RequiredAccess): boolean {
  return accessPolicySupportsInteraction(policy, access.interaction, access.resourceType as ResourceType);
}

/** A Bot read is checked against the policy's criteria with the Bot it reads. */
async function allowsBot(
  result: RunResult,
  policy: AccessPolicy,
  call: Call,
  access: RequiredAccess
): Promise<boolean> {
  if (access.resourceType !== 'Bot' || access.interaction !== 'read') {
    return true;
  }
  const byIdentifier = new URLSearchParams(call.path.split('?')[1] ?? '').get('identifier');
  const name = byIdentifier?.replace(`${BOT_IDENTIFIER_SYSTEM}|`, '');
  const id = access.id ?? (name ? result.botIds[name] : undefined);
  const bot = await result.project.server.repo.readResource<Bot>('Bot', id ?? 'unknown');
  return satisfiedAccessPolicy(bot, 'read', policy) !== undefined;
}

describe('least privilege: every request of a bot is allowed by its AccessPolicy', () => {
  // Bots called by staff, not by the router, make no request in a Stripe stream: their own suites check
  // them the same way (test/payment-request/access.test.ts).
  it.each(Object.keys(BOT_ACCESS).filter((name) => !STAFF_CALLED_BOTS.has(name)))('%s', async (name) => {
    const result = await runStream();
    const caller = `Bot/${result.botIds[name]}`;
    const made = result.calls.filter((c) => c.caller === caller);
    expect(made.length, `${name} made requests`).toBeGreaterThan(5);
    const policy = policyFor(name, result.botIds);
    expect(await violations(result, caller, policy)).toEqual([]);

    // Every write the policy grants is one the stream needed: the policy is no wider than the work.
    const used = new Set(made.flatMap((c) => requiredAccess(c)).map((a) => `${a.interaction} ${a.resourceType}`));
    const grantedWrites = (policy.resource ?? []).flatMap((r) =>
      (r.interaction ?? []).filter((i) => i === 'create' || i === 'update').map((i) => `${i} ${r.resourceType}`)
    );
    expect(grantedWrites.filter((w) => !used.has(w))).toEqual([]);
  });

  it('the stream merges two Accounts of one subscription: their history and Invoice-by-account searches are checked too', async () => {
    const result = await runStream();
    const paths = result.calls.filter((c) => c.caller.startsWith('Bot/')).map((c) => c.path);
    expect(paths.some((p) => /^Account\/[^/]+\/_history/.test(p))).toBe(true);
    expect(paths.some((p) => p.startsWith('Invoice?account='))).toBe(true);
  });

  it('the check is not vacuous: a policy without search on Invoice fails the invoice bot', async () => {
    const result = await runStream();
    const policy = policyFor(BOT_NAME.invoice, result.botIds);
    const narrowed: AccessPolicy = {
      ...policy,
      resource: policy.resource?.map((r) =>
        r.resourceType === 'Invoice' ? { ...r, interaction: r.interaction?.filter((i) => i !== 'search') } : r
      ),
    };
    const found = await violations(result, `Bot/${result.botIds[BOT_NAME.invoice]}`, narrowed);
    // The batched read (one POST to the base URL) counts entry by entry, and so does If-None-Exist.
    expect(found).toContain('POST  → search Invoice');
    expect(found).toContain('POST Invoice → search Invoice');
  });

  it('the router may run its target bots, and no bot of another app', async () => {
    const result = await runStream();
    const policy = policyFor(BOT_NAME.router, result.botIds);
    const other = await result.project.server.seed<Bot>({ resourceType: 'Bot', name: 'clinic-reminders' });
    const target = await result.project.server.repo.readResource<Bot>('Bot', result.botIds[BOT_NAME.invoice] as string);
    expect(satisfiedAccessPolicy(target, 'read', policy)).toBeDefined();
    expect(satisfiedAccessPolicy(other, 'read', policy)).toBeUndefined();
    // Nor the bots staff call.
    for (const name of STAFF_CALLED_BOTS) {
      const staffBot = await result.project.server.repo.readResource<Bot>('Bot', result.botIds[name] as string);
      expect(satisfiedAccessPolicy(staffBot, 'read', policy), name).toBeUndefined();
    }
  });

  it("Stripe's client may run the router by id, and nothing else", async () => {
    const result = await runStream();
    const routerId = result.botIds[BOT_NAME.router] as string;
    const policy = webhookClientPolicy(routerId);
    const stripeCalls = result.calls.filter((c) => c.caller === STRIPE_CLIENT);
    expect(stripeCalls.length).toBeGreaterThan(10);
    expect(stripeCalls.flatMap((c) => requiredAccess(c))).toEqual(
      stripeCalls.map(() => ({ resourceType: 'Bot', interaction: 'read', id: routerId }))
    );
    expect(await violations(result, STRIPE_CLIENT, policy)).toEqual([]);
    const invoiceBot = await result.project.server.repo.readResource<Bot>(
      'Bot',
      result.botIds[BOT_NAME.invoice] as string
    );
    expect(satisfiedAccessPolicy(invoiceBot, 'read', policy)).toBeUndefined();
    expect(accessPolicySupportsInteraction(policy, 'search', 'Bot')).toBe(false);
    expect(accessPolicySupportsInteraction(policy, 'read', 'Communication')).toBe(false);
  });
});

describe('requiredAccess: what a server checks for a request', () => {
  it('counts batch entries one by one, with their conditional creates', () => {
    const body = JSON.stringify({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { request: { method: 'GET', url: 'Invoice?identifier=x' } },
        { request: { method: 'GET', url: 'Patient?_id=1' } },
        { request: { method: 'POST', url: 'Account', ifNoneExist: 'identifier=y' } },
      ],
    });
    expect(requiredAccess({ method: 'POST', path: '', body })).toEqual([
      { resourceType: 'Invoice', interaction: 'search' },
      { resourceType: 'Patient', interaction: 'search' },
      { resourceType: 'Account', interaction: 'search' },
      { resourceType: 'Account', interaction: 'create' },
    ]);
  });

  it('maps each REST interaction', () => {
    const one = (method: string, path: string, headers: Record<string, string> = {}) =>
      requiredAccess({ method, path, headers }).map((a) => a.interaction);
    expect(one('GET', 'Invoice/1')).toEqual(['read']);
    expect(one('GET', 'Invoice?identifier=a')).toEqual(['search']);
    expect(one('POST', 'Invoice/_search')).toEqual(['search']);
    expect(one('POST', 'Invoice')).toEqual(['create']);
    expect(one('POST', 'Invoice', { 'If-None-Exist': 'identifier=a' })).toEqual(['search', 'create']);
    expect(one('PUT', 'Invoice/1')).toEqual(['update']);
    expect(one('PATCH', 'Communication/1')).toEqual(['update']);
    expect(one('PUT', 'Invoice?identifier=a')).toEqual(['search', 'update']);
    expect(one('DELETE', 'Invoice/1')).toEqual(['delete']);
    expect(one('GET', 'Invoice/1/_history')).toEqual(['history']);
    expect(one('GET', 'Invoice/1/_history/2')).toEqual(['vread']);
    expect(requiredAccess({ method: 'POST', path: 'Bot/$execute?identifier=a|b' })).toEqual([
      { resourceType: 'Bot', interaction: 'search' },
      { resourceType: 'Bot', interaction: 'read' },
    ]);
    expect(requiredAccess({ method: 'POST', path: 'fhir/R4/Bot/42/$execute' })).toEqual([
      { resourceType: 'Bot', interaction: 'read', id: '42' },
    ]);
  });

  it('names a bot without a policy', () => {
    expect(() => botAccessPolicy('stripe-unknown')).toThrow(/stripe-unknown.*BOT_ACCESS/);
  });
});
