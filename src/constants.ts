/** Identifier systems for Stripe objects (docs/design.md, "FHIR mapping"), the form Medplum's own Stripe sample uses. */
export const STRIPE_SYSTEM = {
  event: 'https://stripe.com/event/id',
  eventType: 'https://stripe.com/event/type',
  invoice: 'https://stripe.com/invoice/id',
  subscriptionSchedule: 'https://stripe.com/subscription_schedule/id',
  subscription: 'https://stripe.com/subscription/id',
  paymentIntent: 'https://stripe.com/payment_intent/id',
  refund: 'https://stripe.com/refund/id',
  charge: 'https://stripe.com/charge/id',
  customer: 'https://stripe.com/customer/id',
  price: 'https://stripe.com/price/id',
  product: 'https://stripe.com/product/id',
  checkoutSession: 'https://stripe.com/checkout_session/id',
  /** The system Medplum's own Stripe sample bot gives its per-customer Account (value: the `cus_…` id). */
  sampleCustomerAccount: 'https://stripe.com/account/id',
} as const;

/** The billing Account of a Patient whose payment names no Stripe customer (value: the Patient id). */
export const PATIENT_BILLING_ACCOUNT_SYSTEM = 'urn:stripe-medplum:patient-billing-account';

/** The identifier system of our Bots; each Bot's identifier value is its `name` in medplum.config.json. */
export const BOT_IDENTIFIER_SYSTEM = 'urn:stripe-medplum:bot';

/** Namespace of the project's own extensions and code systems. */
export const NAMESPACE = 'urn:stripe-medplum';

export const EXTENSION = {
  /** Complex extension: the Stripe event whose state the resource shows (sub-extensions id, created, stage). */
  lastAppliedEvent: `${NAMESPACE}:extension:last-applied-event`,
  /** The Stripe object's own `status`, kept where the FHIR status cannot say it (e.g. `uncollectible`). */
  stripeStatus: `${NAMESPACE}:extension:stripe-status`,
  /** The subscription schedule machine's state. */
  machineState: `${NAMESPACE}:extension:machine-state`,
  /** Why a resource is inactive where its status alone does not say it (an aborted schedule's Account). */
  statusReason: `${NAMESPACE}:extension:status-reason`,
  /** Where a resource's subject came from (object metadata, the customer's Patient, …), so `--move` rewrites only customer-derived ones. */
  subjectSource: `${NAMESPACE}:extension:subject-source`,
  /** The subscription's own last applied event, status and machine state on a shared Account. */
  subscriptionLastAppliedEvent: `${NAMESPACE}:extension:subscription-last-applied-event`,
  subscriptionStatus: `${NAMESPACE}:extension:subscription-status`,
  subscriptionMachineState: `${NAMESPACE}:extension:subscription-machine-state`,
  /** A subscription's trial end (valueDateTime). */
  trialEnd: `${NAMESPACE}:extension:trial-end`,
  /** One per subscribed item: price and product codings, quantity, current period. */
  subscriptionItem: `${NAMESPACE}:extension:subscription-item`,
} as const;

/** Code system of the archive's processing outcome and of other project-owned codes. */
export const CODE_SYSTEM = {
  archiveOutcome: `${NAMESPACE}:code-system:archive-outcome`,
} as const;

/** Names of the bots; each is also the Bot identifier value and the key in medplum.config.json. */
export const BOT_NAME = {
  router: 'stripe-router',
  invoice: 'stripe-invoice',
  subscriptionSchedule: 'stripe-subscription-schedule',
  paymentIntent: 'stripe-payment-intent',
  customer: 'stripe-customer',
  subscription: 'stripe-subscription',
  paymentRequest: 'stripe-payment-request',
} as const;
