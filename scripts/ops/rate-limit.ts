import { setTimeout as sleepMs } from 'node:timers/promises';

/** One limit of a `RateLimit` header: its name, the units left, and the seconds until it resets. */
export interface RateLimitEntry {
  readonly name: string;
  readonly remaining: number;
  readonly resetSeconds: number;
}

/**
 * Parses a `RateLimit` header. Medplum servers send the IETF draft form, one item per limit with
 * its parameters after semicolons: `"requests";r=0;t=42` (several limits separated by commas, as
 * `res.append` joins them). MedplumClient's own parser (`rateLimitStatus()` in @medplum/core 4.5)
 * expects the reverse separators (`"requests", r=0, t=42`) and throws on the server's form, so its
 * built-in retry of a 429 neither waits the time the server asked for nor reliably retries; both
 * forms are read here.
 */
export function parseRateLimitHeader(header: string | null | undefined): RateLimitEntry[] {
  if (!header) {
    return [];
  }
  const entries: RateLimitEntry[] = [];
  const item = /"([^"]*)"((?:\s*[;,]\s*[A-Za-z]+=[^;,"\s]+)*)/g;
  for (const match of header.matchAll(item)) {
    const params = new Map<string, number>();
    for (const param of (match[2] ?? '').matchAll(/([A-Za-z]+)=([^;,"\s]+)/g)) {
      params.set((param[1] ?? '').toLowerCase(), Number(param[2]));
    }
    const remaining = params.get('r');
    const resetSeconds = params.get('t');
    if (remaining !== undefined && resetSeconds !== undefined && !isNaN(remaining) && !isNaN(resetSeconds)) {
      entries.push({ name: match[1] ?? '', remaining, resetSeconds });
    }
  }
  return entries;
}

/** Parses `Retry-After` (delay seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) {
    return undefined;
  }
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds) && header.trim() !== '') {
    return Math.max(0, seconds * 1000);
  }
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface WaitOptions {
  /** Upper bound of one wait, so a broken header cannot stall a run for hours (default 5 minutes). */
  readonly maxWaitMs?: number;
}

/**
 * How long to wait before retrying a 429: the reset time of the exhausted limits in `RateLimit`
 * (or of every limit when none says 0 left), else `Retry-After`, else exponential backoff
 * (1 s, 2 s, 4 s… by attempt). At least 100 ms.
 */
export function retryWaitMs(headers: Headers, attempt: number, options: WaitOptions = {}): number {
  const maxWaitMs = options.maxWaitMs ?? 300_000;
  const limits = parseRateLimitHeader(headers.get('ratelimit'));
  const exhausted = limits.filter((l) => l.remaining <= 0);
  const relevant = exhausted.length ? exhausted : limits;
  let waitMs: number | undefined = relevant.length
    ? Math.max(...relevant.map((l) => l.resetSeconds)) * 1000
    : parseRetryAfter(headers.get('retry-after'));
  waitMs ??= 1000 * 2 ** Math.max(0, attempt - 1);
  return Math.min(maxWaitMs, Math.max(100, waitMs));
}

export interface RateLimitedFetchOptions extends WaitOptions {
  /** The fetch to call; defaults to the global `fetch`, looked up at call time. */
  readonly fetch?: typeof fetch;
  /** Tries per request, the first included (default 8); the last 429 is returned as is. */
  readonly maxAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told about each wait (for progress output); never given headers or bodies. */
  readonly onWait?: (info: { readonly url: string; readonly waitMs: number; readonly attempt: number }) => void;
}

/**
 * A fetch that waits out 429 Too Many Requests as the server asks and sends the request again,
 * so that a rate limit slows a run down instead of failing it. Request bodies must be replayable
 * (strings, buffers, blobs), which is what MedplumClient sends.
 */
export function rateLimitedFetch(options: RateLimitedFetchOptions = {}): typeof fetch {
  const maxAttempts = options.maxAttempts ?? 8;
  const sleep = options.sleep ?? ((ms: number) => sleepMs(ms));
  return async (input, init) => {
    for (let attempt = 1; ; attempt++) {
      const response = await (options.fetch ?? globalThis.fetch)(input, init);
      if (response.status !== 429 || attempt >= maxAttempts) {
        return response;
      }
      const waitMs = retryWaitMs(response.headers, attempt, options);
      await response.text().catch(() => undefined); // drain it, so the connection is reused
      options.onWait?.({ url: urlWithoutQuery(input), waitMs, attempt });
      await sleep(waitMs);
    }
  };
}

function urlWithoutQuery(input: Parameters<typeof fetch>[0]): string {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  return url.replace(/[?#].*$/, '');
}
