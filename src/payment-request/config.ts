import type { ProjectSetting } from '@medplum/fhirtypes';
import { requestError } from './errors';

/** Project secrets of the payment-request bot (docs/payment-requests.md). */
export const PAYMENT_REQUEST_SECRET = {
  secretKey: 'STRIPE_SECRET_KEY',
  apiUrl: 'STRIPE_API_URL',
  shareContact: 'STRIPE_SHARE_CONTACT',
  shareDescriptions: 'STRIPE_SHARE_DESCRIPTIONS',
} as const;

export interface PaymentRequestConfig {
  /** A restricted key (`rk_…`) with Checkout Sessions and Customers write is enough. */
  readonly secretKey: string;
  /** Where the Stripe API is, when not api.stripe.com (stripe-mock, a local fake). */
  readonly api?: { readonly protocol: 'http' | 'https'; readonly host: string; readonly port?: number };
  /** Send the Patient's name and email to Stripe (default false). */
  readonly shareContact: boolean;
  /** Send the Invoice's line texts to Stripe as the line name (default false). */
  readonly shareDescriptions: boolean;
}

export function readPaymentRequestConfig(secrets: Record<string, ProjectSetting> | undefined): PaymentRequestConfig {
  const secretKey = secrets?.[PAYMENT_REQUEST_SECRET.secretKey]?.valueString?.trim();
  if (!secretKey) {
    throw requestError(
      `the Project secret ${PAYMENT_REQUEST_SECRET.secretKey} is not set: store a Stripe restricted key ` +
        '(rk_…, Checkout Sessions and Customers write) there (npm run setup -- --payment-request-key rk_…)'
    );
  }
  if (!/^(sk|rk)_(test|live)_\S+$/.test(secretKey)) {
    throw requestError(
      `the Project secret ${PAYMENT_REQUEST_SECRET.secretKey} is not a Stripe secret or restricted key (sk_… or rk_…)`
    );
  }
  const apiUrl = secrets?.[PAYMENT_REQUEST_SECRET.apiUrl]?.valueString?.trim();
  return {
    secretKey,
    ...(apiUrl && { api: parseApiOrigin(apiUrl) }),
    shareContact: flag(secrets?.[PAYMENT_REQUEST_SECRET.shareContact], PAYMENT_REQUEST_SECRET.shareContact),
    shareDescriptions: flag(
      secrets?.[PAYMENT_REQUEST_SECRET.shareDescriptions],
      PAYMENT_REQUEST_SECRET.shareDescriptions
    ),
  };
}

/**
 * `STRIPE_API_URL` is an origin only (`scheme://host[:port]`): the Stripe SDK takes a host, port and
 * protocol and would silently drop a path, so a path is refused rather than ignored.
 */
export function parseApiOrigin(text: string): NonNullable<PaymentRequestConfig['api']> {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  const protocol = url?.protocol.replace(/:$/, '');
  if (!url || (protocol !== 'http' && protocol !== 'https')) {
    throw requestError(`${PAYMENT_REQUEST_SECRET.apiUrl} must be an http(s) origin such as http://localhost:12111`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
    throw requestError(
      `${PAYMENT_REQUEST_SECRET.apiUrl} must be an origin only (scheme://host[:port]), without path, query or ` +
        'credentials: the Stripe SDK would drop them'
    );
  }
  return { protocol, host: url.hostname, ...(url.port && { port: Number(url.port) }) };
}

function flag(setting: ProjectSetting | undefined, name: string): boolean {
  if (setting?.valueBoolean !== undefined) {
    return setting.valueBoolean;
  }
  const value = setting?.valueString?.trim().toLowerCase();
  if (!value) {
    return false;
  }
  if (value !== 'true' && value !== 'false') {
    throw requestError(`the Project secret ${name} must be "true" or "false" (unset means false)`);
  }
  return value === 'true';
}
