import { MedplumClient } from '@medplum/core';
import Stripe from 'stripe';
import { describeError, OpsError, type Logger } from './cli';
import { rateLimitedFetch, type RateLimitedFetchOptions } from './rate-limit';

/** The Medplum CLI's environment variables, which these scripts read too. */
export interface MedplumEnv {
  readonly baseUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

export function readMedplumEnv(env: NodeJS.ProcessEnv = process.env): MedplumEnv {
  const baseUrl = env.MEDPLUM_BASE_URL?.trim() || 'https://api.medplum.com/';
  const clientId = env.MEDPLUM_CLIENT_ID?.trim();
  const clientSecret = env.MEDPLUM_CLIENT_SECRET?.trim();
  const missing = [!clientId && 'MEDPLUM_CLIENT_ID', !clientSecret && 'MEDPLUM_CLIENT_SECRET'].filter(Boolean);
  if (missing.length || !clientId || !clientSecret) {
    throw new OpsError(
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set. Set MEDPLUM_BASE_URL (default ` +
        'https://api.medplum.com/), MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET to a ClientApplication of the ' +
        'project (see docs/deploy.md)'
    );
  }
  try {
    new URL(baseUrl);
  } catch {
    throw new OpsError(`MEDPLUM_BASE_URL is not a URL: "${baseUrl}"`);
  }
  return { baseUrl: baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`, clientId, clientSecret };
}

export interface ConnectOptions extends Pick<RateLimitedFetchOptions, 'sleep' | 'maxAttempts'> {
  readonly log?: Logger;
}

/**
 * A MedplumClient logged in with client credentials (`startClientLogin`), whose requests wait out
 * 429 responses as the server asks (see rate-limit.ts), with caching off so every read is fresh.
 */
export async function connectMedplum(env: MedplumEnv, options: ConnectOptions = {}): Promise<MedplumClient> {
  const medplum = new MedplumClient({
    baseUrl: env.baseUrl,
    cacheTime: 0,
    fetch: rateLimitedFetch({
      ...(options.sleep && { sleep: options.sleep }),
      ...(options.maxAttempts && { maxAttempts: options.maxAttempts }),
      onWait: ({ url, waitMs }) =>
        options.log?.warn(`rate limited (429) on ${url}: waiting ${Math.ceil(waitMs / 1000)} s as the server asks`),
    }),
  });
  try {
    await medplum.startClientLogin(env.clientId, env.clientSecret);
  } catch (err) {
    const reason = describeError(err);
    // Medplum answers a wrong client id or secret with 400 "Failed to fetch tokens", not 401.
    const hint = /Failed to fetch tokens|invalid_client|\b40[01]\b/.test(reason)
      ? 'The client id or secret is wrong (Medplum answers 400 to a bad client login): copy both again from ' +
        'Admin → Project → Clients, into MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET'
      : 'Check MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET';
    throw new OpsError(`could not log in to ${env.baseUrl} as ClientApplication ${env.clientId}: ${reason}. ${hint}`);
  }
  return medplum;
}

export function readStripeKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.STRIPE_SECRET_KEY?.trim() || undefined;
}

/** The Stripe client of the scripts (never of the bots): retries Stripe's own 429s and network errors. */
export function createStripe(secretKey: string): Stripe {
  return new Stripe(secretKey, { maxNetworkRetries: 3, appInfo: { name: 'stripe-medplum' } });
}
