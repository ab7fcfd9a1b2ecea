import type { Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import { CUSTOMER_ID } from '../harness/project';
import { createRequestProject, outcomeText, SECRET_KEY, seedInvoice, seedPatient, useStripeFake } from './helpers';

const stripe = useStripeFake({ beforeAll, afterAll, beforeEach });

describe('an amount request', () => {
  it('creates the customer with the Patient id only, puts it on the Patient, and opens a session', async () => {
    const project = await createRequestProject();
    const patient = await seedPatient(project);
    const result = await project.requestOk({
      patient: `Patient/${patient.id}`,
      amount: 5000,
      currency: 'usd',
      description: 'Co-pay',
      successUrl: 'https://clinic.example/paid',
      cancelUrl: 'https://clinic.example/cancel',
    });

    const [customerCall, sessionCall, ...rest] = stripe.current.requests;
    expect(rest).toEqual([]);
    expect(customerCall).toMatchObject({ method: 'POST', path: '/v1/customers' });
    // Metadata only: no name, no email (STRIPE_SHARE_CONTACT is not set).
    expect(customerCall?.params).toEqual({ metadata: { medplum_patient_id: patient.id } });
    expect(customerCall?.headers.authorization).toBe(`Bearer ${SECRET_KEY}`);

    expect(sessionCall).toMatchObject({ method: 'POST', path: '/v1/checkout/sessions' });
    expect(sessionCall?.params).toEqual({
      mode: 'payment',
      customer: result.customer,
      client_reference_id: patient.id,
      line_items: [
        { quantity: '1', price_data: { currency: 'usd', unit_amount: '5000', product_data: { name: 'Co-pay' } } },
      ],
      metadata: { medplum_patient_id: patient.id },
      payment_intent_data: { metadata: { medplum_patient_id: patient.id } },
      success_url: 'https://clinic.example/paid',
      cancel_url: 'https://clinic.example/cancel',
    });
    // Keys are hashes, one per endpoint: no Patient id in them.
    expect(customerCall?.idempotencyKey).toMatch(/^stripe-medplum-customer-[0-9a-f]{64}$/);
    expect(sessionCall?.idempotencyKey).toMatch(/^stripe-medplum-checkout-session-[0-9a-f]{64}$/);
    expect(sessionCall?.idempotencyKey).not.toContain(patient.id);

    const session = [...stripe.current.sessions.values()][0];
    expect(result).toEqual({
      url: `https://checkout.stripe.com/c/pay/${session?.id}`,
      sessionId: session?.id,
      expiresAt: new Date(((session?.created ?? 0) + 24 * 3600) * 1000).toISOString(),
      customer: session?.customer,
    });
    expect(stripe.current.customers.get(result.customer)?.metadata).toEqual({ medplum_patient_id: patient.id });
  });

  it('changes nothing on the Patient but the added customer identifier (If-Match on the version read)', async () => {
    const project = await createRequestProject();
    const patient = await seedPatient(project, {
      identifier: [{ system: 'urn:clinic:mrn', value: 'MRN-7' }],
      birthDate: '2010-05-09',
      gender: 'female',
    });
    const result = await project.requestOk({ patient: `Patient/${patient.id}`, amount: 2500 });

    const after = await project.server.repo.readResource<Patient>('Patient', patient.id);
    const { meta: _before, identifier: beforeIds, ...beforeRest } = patient;
    const { meta: _after, identifier: afterIds, ...afterRest } = after;
    expect(afterRest).toEqual(beforeRest);
    expect(afterIds?.slice(0, -1)).toEqual(beforeIds);
    expect(afterIds?.at(-1)).toMatchObject({ system: STRIPE_SYSTEM.customer, value: result.customer });
    expect(after.meta?.versionId).not.toBe(patient.meta?.versionId);

    const botId = project.server.botId(BOT_NAME.paymentRequest);
    const writes = project.server.requestsBy(`Bot/${botId}`).filter((r) => r.method !== 'GET');
    expect(writes.map((w) => `${w.method} ${w.path}`)).toEqual([
      'POST ', // the batched read of Patient (and Invoice)
      `PUT Patient/${patient.id}`,
    ]);
  });

  it('uses the customer the Patient already has, creating none', async () => {
    const project = await createRequestProject();
    const result = await project.requestOk({ patient: `Patient/${project.patient.id}`, amount: 5000 });
    expect(result.customer).toBe(CUSTOMER_ID);
    expect(stripe.current.writes().map((r) => r.path)).toEqual(['/v1/checkout/sessions']);
  });

  it('of several customer ids, uses the newest whose period is open', async () => {
    const project = await createRequestProject();
    const ids = ['cus_Old', 'cus_Closed', 'cus_Newest', 'cus_NoPeriod'];
    for (const id of ids) {
      stripe.current.customers.set(id, { id, metadata: {} });
    }
    const patient = await seedPatient(project, {
      identifier: [
        { system: STRIPE_SYSTEM.customer, value: 'cus_Old', period: { start: '2024-01-01T00:00:00Z' } },
        { system: STRIPE_SYSTEM.customer, value: 'cus_Newest', period: { start: '2025-06-01T00:00:00Z' } },
        {
          system: STRIPE_SYSTEM.customer,
          value: 'cus_Closed',
          period: { start: '2026-01-01T00:00:00Z', end: '2026-02-01T00:00:00Z' },
        },
        { system: STRIPE_SYSTEM.customer, value: 'cus_NoPeriod' },
      ],
    });
    const result = await project.requestOk({ patient: `Patient/${patient.id}`, amount: 5000 });
    expect(result.customer).toBe('cus_Newest');
  });

  it('shares name and email in a separate customer update only when STRIPE_SHARE_CONTACT allows', async () => {
    const project = await createRequestProject();
    project.server.setSecret('STRIPE_SHARE_CONTACT', true);
    const patient = await seedPatient(project);
    const result = await project.requestOk({ patient: `Patient/${patient.id}`, amount: 5000 });
    const writes = stripe.current.writes();
    expect(writes.map((w) => w.path)).toEqual([
      '/v1/customers',
      `/v1/customers/${result.customer}`,
      '/v1/checkout/sessions',
    ]);
    // The create stays metadata-only, so its key's parameters never change with the contact details.
    expect(writes[0]?.params).toEqual({ metadata: { medplum_patient_id: patient.id } });
    expect(writes[1]?.params).toEqual({ name: 'Lisa Simpson', email: 'lisa@example.org' });
    expect(writes[1]?.idempotencyKey).toMatch(/^stripe-medplum-customer-contact-[0-9a-f]{64}$/);
  });

  it('names the line "Payment" without a description', async () => {
    const project = await createRequestProject();
    await project.requestOk({ patient: `Patient/${project.patient.id}`, amount: 5000 });
    const session = stripe.current.writes().find((w) => w.path === '/v1/checkout/sessions');
    expect(session?.params).toMatchObject({ line_items: [{ price_data: { product_data: { name: 'Payment' } } }] });
    expect(session?.params).not.toHaveProperty('success_url');
  });
});

describe('the input as text', () => {
  it('reads a JSON text sent as text/plain (a form that posts what was pasted)', async () => {
    const project = await createRequestProject();
    const body = JSON.stringify({ patient: `Patient/${project.patient.id}`, amount: 5000 });
    const response = await project.server.execute(BOT_NAME.paymentRequest, body, { contentType: 'text/plain' });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(stripe.current.sessions.size).toBe(1);
  });
});

describe('an Invoice request', () => {
  it('charges the issued Invoice total, with medplum_invoice_id in both metadata, line texts withheld', async () => {
    const project = await createRequestProject();
    const invoice = await seedInvoice(project, project.patient.id, { value: 120.5, currency: 'USD' });
    const result = await project.requestOk({
      patient: `Patient/${project.patient.id}`,
      invoice: `Invoice/${invoice.id}`,
    });
    const session = stripe.current.writes().find((w) => w.path === '/v1/checkout/sessions');
    const metadata = { medplum_patient_id: project.patient.id, medplum_invoice_id: invoice.id };
    expect(session?.params).toMatchObject({
      line_items: [{ price_data: { currency: 'usd', unit_amount: '12050', product_data: { name: 'Payment' } } }],
      metadata,
      payment_intent_data: { metadata },
    });
    expect(result.sessionId).toMatch(/^cs_test_/);
  });

  it('sends the line texts when STRIPE_SHARE_DESCRIPTIONS allows', async () => {
    const project = await createRequestProject();
    project.server.setSecret('STRIPE_SHARE_DESCRIPTIONS', 'true');
    const invoice = await seedInvoice(project, project.patient.id, { value: 80, currency: 'USD' });
    await project.requestOk({ patient: `Patient/${project.patient.id}`, invoice: `Invoice/${invoice.id}` });
    const session = stripe.current.writes().find((w) => w.path === '/v1/checkout/sessions');
    expect(session?.params).toMatchObject({
      line_items: [{ price_data: { unit_amount: '8000', product_data: { name: 'Follow-up visit; Blood panel' } } }],
    });
  });

  it.each([
    { currency: 'JPY', value: 5000, unitAmount: '5000' },
    { currency: 'USD', value: 12.34, unitAmount: '1234' },
    { currency: 'KWD', value: 12.34, unitAmount: '12340' },
    { currency: 'BHD', value: 7.5, unitAmount: '7500' },
    { currency: 'BHD', value: 0.1, unitAmount: '100' },
    { currency: 'USD', value: 0.29 + 0.71, unitAmount: '100' },
  ])('$value $currency → unit_amount $unitAmount', async ({ currency, value, unitAmount }) => {
    const project = await createRequestProject();
    const invoice = await seedInvoice(project, project.patient.id, { value, currency });
    await project.requestOk({ patient: `Patient/${project.patient.id}`, invoice: `Invoice/${invoice.id}` });
    const session = stripe.current.writes().find((w) => w.path === '/v1/checkout/sessions');
    expect(session?.params).toMatchObject({
      line_items: [{ price_data: { currency: currency.toLowerCase(), unit_amount: unitAmount } }],
    });
  });
});

describe('configuration', () => {
  it('reaches the API named by STRIPE_API_URL, and refuses one with a path', async () => {
    const project = await createRequestProject();
    project.server.setSecret('STRIPE_API_URL', 'http://localhost:12111/v1');
    const response = await project.request({ patient: `Patient/${project.patient.id}`, amount: 5000 });
    expect(response.status).toBe(400);
    expect(outcomeText(response.body)).toMatch(/STRIPE_API_URL must be an origin only/);
    expect(stripe.current.requests).toEqual([]);
  });
});
