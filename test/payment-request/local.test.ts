import type { Patient } from '@medplum/fhirtypes';
import { afterEach, describe, expect, it } from 'vitest';
import { requestDemoPayment } from '../../scripts/local/demo-payment-request';
import { startStripeFake, type StripeFakeServer } from '../../scripts/local/stripe-fake';
import { BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import { startServer } from '../local/helpers';

const fakes: StripeFakeServer[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function fakeStripe(): Promise<StripeFakeServer> {
  const fake = await startStripeFake();
  fakes.push(fake);
  return fake;
}

describe('npm start serves the payment-request bot', () => {
  it('runs it over HTTP as the local operator, with STRIPE_SECRET_KEY and STRIPE_API_URL from the environment', async () => {
    const stripe = await fakeStripe();
    const server = await startServer({ paymentRequest: { secretKey: 'rk_test_local123', apiUrl: stripe.origin } });
    const patient = await server.embedded.seed<Patient>({ resourceType: 'Patient', name: [{ family: 'Van Houten' }] });
    const botId = server.embedded.botId(BOT_NAME.paymentRequest);
    const response = await fetch(`${server.baseUrl}/fhir/R4/Bot/${botId}/$execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ patient: `Patient/${patient.id}`, amount: 2000, currency: 'usd' }),
    });
    const body = (await response.json()) as { sessionId: string; customer: string };
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect([...stripe.fake.sessions.keys()]).toEqual([body.sessionId]);
    expect(stripe.fake.requests[0]?.headers.authorization).toBe('Bearer rk_test_local123');
    const stored = await server.embedded.repo.readResource<Patient>('Patient', patient.id);
    expect(stored.identifier?.map((i) => `${i.system}|${i.value}`)).toEqual([
      `${STRIPE_SYSTEM.customer}|${body.customer}`,
    ]);
    expect(server.notices.join('\n')).toContain(`${BOT_NAME.paymentRequest} → 200 → ${body.sessionId}`);
  });

  it('without STRIPE_SECRET_KEY, answers 400 saying what to set', async () => {
    const server = await startServer();
    const botId = server.embedded.botId(BOT_NAME.paymentRequest);
    const response = await fetch(`${server.baseUrl}/fhir/R4/Bot/${botId}/$execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ patient: 'Patient/x', amount: 2000 }),
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toMatch(/STRIPE_SECRET_KEY is not set/);
  });
});

describe("the demo's last step", () => {
  it('requests a payment for the demo Patient against a loopback fake Stripe and prints the URL', async () => {
    const server = await startServer();
    const patient: Patient = {
      resourceType: 'Patient',
      name: [{ given: ['Marge'], family: 'Simpson' }],
      identifier: [{ system: STRIPE_SYSTEM.customer, value: 'cus_TDemoStep' }],
    };
    const stored = await server.embedded.seed(patient);
    const lines: string[] = [];
    const result = await requestDemoPayment(server, [patient], (line) => lines.push(line));
    expect(result.customer).toBe('cus_TDemoStep');
    expect(lines).toContain(`  ${result.url}`);
    expect(lines.join('\n')).toContain(`Patient/${stored.id}`);
    // The demo's key and fake URL do not outlive the step.
    expect(server.embedded.secrets.STRIPE_SECRET_KEY).toBeUndefined();
    expect(server.embedded.secrets.STRIPE_API_URL).toBeUndefined();
  });
});
