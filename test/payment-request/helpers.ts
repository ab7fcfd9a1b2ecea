import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import type { Invoice, Patient } from '@medplum/fhirtypes';
import type { WithId } from '@medplum/core';
import { BOT_NAME } from '../../src/constants';
import type { PaymentRequestResult } from '../../src/handlers/payment-request';
import { fakeStripeRequest, StripeFake } from '../../scripts/local/stripe-fake';
import { createTestProject, CUSTOMER_ID, type ProjectOptions, type TestProject } from '../harness/project';

export const SECRET_KEY = 'rk_test_51PaymentRequestSecretKey0123456789';
export const STAFF = 'Practitioner/front-desk-1';
const STRIPE_API = 'https://api.stripe.com';

/**
 * The fake Stripe API (scripts/local/stripe-fake.ts) behind msw at api.stripe.com, so the bot's real
 * `stripe` client reaches it. A fresh fake per test: `useStripeFake()` in a describe block.
 */
export function useStripeFake(hooks: {
  beforeAll: (fn: () => void) => void;
  afterAll: (fn: () => void) => void;
  beforeEach: (fn: () => void) => void;
}): { readonly current: StripeFake } {
  const fresh = () => {
    const fake = new StripeFake();
    // The customer of the harness's Patient (createTestProject) exists in Stripe.
    fake.customers.set(CUSTOMER_ID, { id: CUSTOMER_ID, metadata: {} });
    return fake;
  };
  const holder = { current: fresh() };
  const server = setupServer(
    http.all(`${STRIPE_API}/v1/*`, async ({ request }) => {
      const headers: Record<string, string> = {};
      request.headers.forEach((value, key) => {
        headers[key] = value;
      });
      const body = request.method === 'GET' ? '' : await request.text();
      const answer = await holder.current.handle(
        fakeStripeRequest(request.method, new URL(request.url), headers, body)
      );
      if ('network' in answer) {
        return HttpResponse.error();
      }
      return HttpResponse.json(answer.body as object, { status: answer.status, headers: answer.headers });
    })
  );
  hooks.beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  hooks.afterAll(() => server.close());
  hooks.beforeEach(() => {
    holder.current = fresh();
  });
  return holder;
}

export interface RequestProject extends TestProject {
  /** Calls the bot as staff would (`Bot/$execute`), returning the HTTP status and body. */
  request(input: unknown): Promise<{ status: number; body: unknown }>;
  /** Calls the bot and expects success. */
  requestOk(input: unknown): Promise<PaymentRequestResult>;
}

/** A project as setup leaves it, with the payment-request bot's key in the Project secrets. */
export async function createRequestProject(options: ProjectOptions = {}): Promise<RequestProject> {
  const project = await createTestProject(options);
  project.server.setSecret('STRIPE_SECRET_KEY', SECRET_KEY);
  const request = (input: unknown) =>
    project.server.execute(BOT_NAME.paymentRequest, JSON.stringify(input), { requester: STAFF });
  return Object.assign(project, {
    request,
    requestOk: async (input: unknown) => {
      const response = await request(input);
      if (response.status !== 200) {
        throw new Error(`payment request answered ${response.status}: ${JSON.stringify(response.body)}`);
      }
      return response.body as PaymentRequestResult;
    },
  });
}

/** The text of an OperationOutcome answer. */
export function outcomeText(body: unknown): string {
  const issues = (body as { issue?: { details?: { text?: string }; diagnostics?: string }[] }).issue ?? [];
  return issues.map((i) => i.details?.text ?? i.diagnostics ?? '').join('; ');
}

/** A Patient without a Stripe customer. */
export async function seedPatient(project: TestProject, extra: Partial<Patient> = {}): Promise<WithId<Patient>> {
  return project.server.seed<Patient>({
    resourceType: 'Patient',
    name: [{ given: ['Lisa'], family: 'Simpson' }],
    telecom: [{ system: 'email', value: 'lisa@example.org' }],
    ...extra,
  });
}

/** An issued Invoice of a Patient, written by staff in Medplum (no Stripe identifier). */
export async function seedInvoice(
  project: TestProject,
  patientId: string,
  total: { value: number; currency: string },
  extra: Partial<Invoice> = {}
): Promise<WithId<Invoice>> {
  return project.server.seed<Invoice>({
    resourceType: 'Invoice',
    status: 'issued',
    subject: { reference: `Patient/${patientId}` },
    recipient: { reference: `Patient/${patientId}` },
    date: '2026-11-01T10:00:00Z',
    lineItem: [
      { sequence: 1, chargeItemCodeableConcept: { text: 'Follow-up visit' } },
      { sequence: 2, chargeItemCodeableConcept: { text: 'Blood panel' } },
    ],
    totalNet: { value: total.value, currency: total.currency as 'USD' },
    totalGross: { value: total.value, currency: total.currency as 'USD' },
    ...extra,
  });
}
