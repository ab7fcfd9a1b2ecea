import Stripe from 'stripe';
import type { Logger } from './cli';
import { rateLimitedFetch, type RateLimitedFetchOptions } from './rate-limit';

export interface StripeClientOptions extends Pick<RateLimitedFetchOptions, 'sleep' | 'maxAttempts'> {
  readonly log?: Logger;
}

/**
 * A Stripe client for long listings: its requests go through `rateLimitedFetch`, so a 429 is waited
 * out as Stripe's `Retry-After` asks (the stripe package itself does not retry a 429), and network
 * errors and 5xx are retried by the package.
 */
export function createRateLimitedStripe(secretKey: string, options: StripeClientOptions = {}): Stripe {
  const fetchFn = rateLimitedFetch({
    ...(options.sleep && { sleep: options.sleep }),
    ...(options.maxAttempts && { maxAttempts: options.maxAttempts }),
    onWait: ({ url, waitMs }) =>
      options.log?.warn(`Stripe rate limit (429) on ${url}: waiting ${Math.ceil(waitMs / 1000)} s as Stripe asks`),
  });
  return new Stripe(secretKey, {
    httpClient: Stripe.createFetchHttpClient(fetchFn),
    maxNetworkRetries: 2,
    appInfo: { name: 'stripe-medplum' },
  });
}
