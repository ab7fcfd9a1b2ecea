import { Operator } from '@medplum/core';
import type { Patient } from '@medplum/fhirtypes';
import { BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import { PAYMENT_REQUEST_SECRET } from '../../src/payment-request/config';
import type { PaymentRequestResult } from '../../src/handlers/payment-request';
import type { LocalServer } from './server';
import { startStripeFake } from './stripe-fake';

/** A made-up key: the demo's Stripe is the loopback fake, which checks only the key's shape. */
const DEMO_KEY = 'rk_test_demo_not_a_real_key';

/**
 * The demo's last step: staff request a payment for the demo Patient, as from the Patient's page in
 * Medplum (`Bot/$execute` of stripe-payment-request), against a fake Stripe API on loopback
 * (offline). Prints the payment page URL it got; throws when the request fails.
 */
export async function requestDemoPayment(
  server: LocalServer,
  patients: readonly Patient[],
  out: (line: string) => void
): Promise<PaymentRequestResult> {
  const bot = server.bots.find((b) => b.name === BOT_NAME.paymentRequest);
  const customerId = patients[0]?.identifier?.find((i) => i.system === STRIPE_SYSTEM.customer)?.value;
  if (!bot || !customerId) {
    throw new Error(`the demo needs the ${BOT_NAME.paymentRequest} bot and a demo Patient with a Stripe customer`);
  }
  const patient = await server.embedded.repo.searchOne<Patient>({
    resourceType: 'Patient',
    filters: [{ code: 'identifier', operator: Operator.EQUALS, value: `${STRIPE_SYSTEM.customer}|${customerId}` }],
  });
  const stripe = await startStripeFake();
  // The fake Stripe account already knows the demo Patient's customer, as the real one would.
  stripe.fake.customers.set(customerId, { id: customerId, metadata: {} });
  const secrets = server.embedded.secrets;
  const saved = { key: secrets[PAYMENT_REQUEST_SECRET.secretKey], url: secrets[PAYMENT_REQUEST_SECRET.apiUrl] };
  server.embedded.setSecret(PAYMENT_REQUEST_SECRET.secretKey, DEMO_KEY);
  server.embedded.setSecret(PAYMENT_REQUEST_SECRET.apiUrl, stripe.origin);
  try {
    const url = `${server.baseUrl}/fhir/R4/Bot/${bot.id}/$execute`;
    const input = {
      patient: `Patient/${patient?.id}`,
      amount: 4500,
      currency: 'usd',
      description: 'Visit co-pay',
      requestId: 'demo-visit-co-pay',
    };
    out('');
    out(`Requesting a payment for Patient/${patient?.id} from the Patient's record (fake Stripe on ${stripe.origin}):`);
    out(`  POST ${url}`);
    out(`  ${JSON.stringify(input)}`);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    const body = (await response.json()) as PaymentRequestResult;
    if (response.status !== 200) {
      throw new Error(`the payment request answered ${response.status}: ${JSON.stringify(body)}`);
    }
    out(`Payment page for the patient (Stripe Checkout, expires ${body.expiresAt}):`);
    out(`  ${body.url}`);
    out('  (made by the fake Stripe: with a real test key and no STRIPE_API_URL, npm start gives a page that opens)');
    return body;
  } finally {
    server.embedded.setSecret(PAYMENT_REQUEST_SECRET.secretKey, saved.key?.valueString);
    server.embedded.setSecret(PAYMENT_REQUEST_SECRET.apiUrl, saved.url?.valueString);
    await stripe.close();
  }
}
