import type { Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import { CUSTOMER_ID } from '../harness/project';
import { createRequestProject, outcomeText, seedInvoice, seedPatient, useStripeFake } from './helpers';

const stripe = useStripeFake({ beforeAll, afterAll, beforeEach });

const answered = () => stripe.current.requests.map((r, i) => `${r.method} ${r.path} ${stripe.current.statuses[i]}`);
const sessionPosts = () =>
  stripe.current.requests.filter((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions');

describe('a retried request gets the same session, never a second', () => {
  it('one after the other, without requestId: one session, the replay read back as still open', async () => {
    const project = await createRequestProject();
    const input = { patient: `Patient/${project.patient.id}`, amount: 5000, description: 'Co-pay' };
    const first = await project.requestOk(input);
    const second = await project.requestOk(input);
    expect(second).toEqual(first);
    expect(stripe.current.sessions.size).toBe(1);
    // What Stripe received: the same key twice, and a read of the replayed session's current state.
    const [a, b] = sessionPosts();
    expect(a?.idempotencyKey).toBe(b?.idempotencyKey);
    expect(stripe.current.requests.at(-1)).toMatchObject({
      method: 'GET',
      path: `/v1/checkout/sessions/${first.sessionId}`,
    });
  });

  it('concurrently: one session; the second waited out Stripe’s 409 for the key in flight', async () => {
    const project = await createRequestProject();
    stripe.current.writeDelayMs = 150;
    const input = { patient: `Patient/${project.patient.id}`, amount: 7500, requestId: 'visit-2026-11-30' };
    const [first, second] = await Promise.all([project.requestOk(input), project.requestOk(input)]);
    expect(second).toEqual(first);
    expect(stripe.current.sessions.size).toBe(1);
    expect(new Set(sessionPosts().map((r) => r.idempotencyKey)).size).toBe(1);
    // The second arrived while the first was in flight: Stripe answered 409, the SDK retried with the same key.
    expect(answered()).toContain('POST /v1/checkout/sessions 409');
  });

  it('concurrently for a Patient without a customer: one customer, one identifier on the Patient', async () => {
    const project = await createRequestProject();
    const patient = await seedPatient(project);
    stripe.current.writeDelayMs = 150;
    const input = { patient: `Patient/${patient.id}`, amount: 7500 };
    const [first, second] = await Promise.all([project.requestOk(input), project.requestOk(input)]);
    expect(second).toEqual(first);
    expect(answered()).toContain('POST /v1/customers 409');
    // The harness's own customer plus the Patient's one.
    expect([...stripe.current.customers.keys()].sort()).toEqual([first.customer, CUSTOMER_ID].sort());
    expect(stripe.current.sessions.size).toBe(1);
    const stored = await project.server.repo.readResource<Patient>('Patient', patient.id);
    expect(stored.identifier?.filter((i) => i.system === STRIPE_SYSTEM.customer)).toEqual([
      expect.objectContaining({ value: first.customer }),
    ]);
  });

  it('an Invoice request is keyed by the Invoice: asked twice, one session', async () => {
    const project = await createRequestProject();
    const invoice = await seedInvoice(project, project.patient.id, { value: 95, currency: 'USD' });
    const input = { patient: `Patient/${project.patient.id}`, invoice: `Invoice/${invoice.id}` };
    const [first, second] = [await project.requestOk(input), await project.requestOk(input)];
    expect(second.sessionId).toBe(first.sessionId);
    expect(stripe.current.sessions.size).toBe(1);
  });

  it('a new requestId makes a new session; the same requestId with other content is refused', async () => {
    const project = await createRequestProject();
    const patient = `Patient/${project.patient.id}`;
    const first = await project.requestOk({ patient, amount: 5000, requestId: 'r1' });
    const other = await project.requestOk({ patient, amount: 5000, requestId: 'r2' });
    expect(other.sessionId).not.toBe(first.sessionId);

    const changed = await project.request({ patient, amount: 6000, requestId: 'r1' });
    expect(changed.status).toBe(409);
    expect(outcomeText(changed.body)).toMatch(/already sent with other parameters.*send a new requestId/);
    expect(stripe.current.sessions.size).toBe(2);
  });

  it.each([
    ['paid', (id: string) => stripe.current.pay(id), /already paid/],
    ['expired', (id: string) => stripe.current.expire(id), /expired/],
  ])('a replayed session that is %s is not handed out', async (_state, change, reason) => {
    const project = await createRequestProject();
    const input = { patient: `Patient/${project.patient.id}`, amount: 5000, requestId: 'once' };
    const first = await project.requestOk(input);
    change(first.sessionId);
    const again = await project.request(input);
    expect(again.status).toBe(409);
    expect(outcomeText(again.body)).toMatch(reason);
    expect(outcomeText(again.body)).toMatch(new RegExp(`${first.sessionId}.*send a new requestId`));
    expect(stripe.current.sessions.size).toBe(1);
    // A new requestId gets a new, open session.
    const next = await project.requestOk({ ...input, requestId: 'twice' });
    expect(next.sessionId).not.toBe(first.sessionId);
  });

  it('the customer and the session have different keys, and keys of different Patients differ', async () => {
    const project = await createRequestProject();
    const lisa = await seedPatient(project);
    const bart = await seedPatient(project, { name: [{ given: ['Bart'], family: 'Simpson' }] });
    await project.requestOk({ patient: `Patient/${lisa.id}`, amount: 5000 });
    await project.requestOk({ patient: `Patient/${bart.id}`, amount: 5000 });
    const keys = stripe.current.writes().map((r) => r.idempotencyKey);
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(4);
  });
});
