/**
 * Stripe's API as far as setup, backfill, reconcile and diagnose use it (`/v1/webhook_endpoints`,
 * `/v1/events`, and the object lists reconcile reads), reached through msw in process by the real
 * `stripe` package. Lists page like Stripe's: newest first, `limit`, `starting_after`, `has_more`,
 * `created[gte]`/`created[lt]`; a list can be made to answer one 429 with `Retry-After`.
 */
import { http, HttpResponse, type RequestHandler } from 'msw';
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';

export interface StripeCall {
  readonly method: string;
  readonly path: string;
  /** Query (GET) or form body (POST), decoded: `enabled_events[0]` → `enabled_events: [...]`. */
  readonly params: Record<string, unknown>;
}

/** Decodes Stripe's form encoding (`a[0]=x&a[1]=y&m[k]=v`) into arrays and objects. */
export function decodeStripeParams(search: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of search) {
    const match = /^([^[]+)\[([^\]]*)\]$/.exec(key);
    if (!match) {
      out[key] = value;
      continue;
    }
    const [, name = '', inner = ''] = match;
    if (/^\d*$/.test(inner)) {
      out[name] = [...((out[name] as unknown[] | undefined) ?? []), value];
    } else {
      out[name] = { ...((out[name] as Record<string, string> | undefined) ?? {}), [inner]: value };
    }
  }
  return out;
}

/** The object lists reconcile reads, by API path. */
export const OBJECT_LIST_PATHS = [
  '/v1/invoices',
  '/v1/payment_intents',
  '/v1/refunds',
  '/v1/checkout/sessions',
  '/v1/subscriptions',
  '/v1/customers',
] as const;
export type ObjectListPath = (typeof OBJECT_LIST_PATHS)[number];

export class StripeFake {
  readonly endpoints: Stripe.WebhookEndpoint[] = [];
  readonly calls: StripeCall[] = [];
  /** Objects by list path, in the order they were created (oldest first). */
  private readonly objects = new Map<string, { id: string; created: number }[]>();
  /** List paths whose next request answers 429 with this `Retry-After`. */
  private readonly rateLimited = new Map<string, string>();

  /** List paths the key may not read: they answer 403 as Stripe does for a restricted key. */
  readonly forbidden = new Set<ObjectListPath>();

  addObject(path: ObjectListPath, object: { id: string; created: number }): void {
    this.objects.set(path, [...(this.objects.get(path) ?? []), object]);
  }

  /** The next request to `path` answers 429 Too Many Requests with `Retry-After: <seconds>`. */
  rateLimitNext(path: ObjectListPath, retryAfterSeconds: string): void {
    this.rateLimited.set(path, retryAfterSeconds);
  }
  /** Events, in the order they happened (oldest first). */
  private readonly events: { event: Stripe.Event; delivered: boolean }[] = [];

  addEndpoint(endpoint: Partial<Stripe.WebhookEndpoint> & { url: string }): Stripe.WebhookEndpoint {
    const created: Stripe.WebhookEndpoint = {
      id: `we_${randomUUID().replace(/-/g, '').slice(0, 24)}`,
      object: 'webhook_endpoint',
      api_version: null,
      application: null,
      created: 1_760_000_000,
      description: null,
      enabled_events: [],
      livemode: false,
      metadata: {},
      status: 'enabled',
      ...endpoint,
    } as Stripe.WebhookEndpoint;
    this.endpoints.push(created);
    return created;
  }

  addEvent(event: Stripe.Event, delivered = false): void {
    this.events.push({ event, delivered });
  }

  writes(): StripeCall[] {
    return this.calls.filter((c) => c.method !== 'GET');
  }

  handlers(): RequestHandler[] {
    const base = 'https://api.stripe.com/v1';
    const record = async (request: Request): Promise<Record<string, unknown>> => {
      const url = new URL(request.url);
      const params = decodeStripeParams(
        request.method === 'GET' ? url.searchParams : new URLSearchParams(await request.text())
      );
      this.calls.push({ method: request.method, path: url.pathname, params });
      return params;
    };
    const notFound = (id: string) =>
      HttpResponse.json(
        { error: { type: 'invalid_request_error', message: `No such object: '${id}'` } },
        { status: 404 }
      );
    const objectLists = OBJECT_LIST_PATHS.map((path) =>
      http.get(`https://api.stripe.com${path}`, async ({ request }) => {
        const params = await record(request);
        if (this.forbidden.has(path)) {
          return HttpResponse.json(
            {
              error: {
                type: 'invalid_request_error',
                message: 'The provided key does not have the required permissions',
              },
            },
            { status: 403 }
          );
        }
        const retryAfter = this.rateLimited.get(path);
        if (retryAfter !== undefined) {
          this.rateLimited.delete(path);
          return HttpResponse.json(
            { error: { type: 'rate_limit_error', message: 'Too many requests' } },
            { status: 429, headers: { 'Retry-After': retryAfter } }
          );
        }
        const created = (params.created ?? {}) as Record<string, string>;
        const selected = (this.objects.get(path) ?? [])
          .filter(
            (o) =>
              (created.gte === undefined || o.created >= Number(created.gte)) &&
              (created.lt === undefined || o.created < Number(created.lt))
          )
          .reverse();
        return HttpResponse.json(page(selected, params, path));
      })
    );
    return [
      ...objectLists,
      http.get(`${base}/webhook_endpoints`, async ({ request }) => {
        const params = await record(request);
        return HttpResponse.json(page([...this.endpoints].reverse(), params, '/v1/webhook_endpoints'));
      }),
      http.post(`${base}/webhook_endpoints`, async ({ request }) => {
        const params = await record(request);
        const endpoint = this.addEndpoint({
          url: params.url as string,
          enabled_events: params.enabled_events as string[],
          api_version: (params.api_version as string | undefined) ?? null,
          description: (params.description as string | undefined) ?? null,
          metadata: (params.metadata as Record<string, string> | undefined) ?? {},
        });
        return HttpResponse.json({ ...endpoint, secret: `whsec_created_${endpoint.id}` });
      }),
      http.post(`${base}/webhook_endpoints/:id`, async ({ request, params: path }) => {
        const params = await record(request);
        const endpoint = this.endpoints.find((e) => e.id === path.id);
        if (!endpoint) {
          return notFound(String(path.id));
        }
        Object.assign(endpoint, {
          ...(params.url !== undefined && { url: params.url }),
          ...(params.enabled_events !== undefined && { enabled_events: params.enabled_events }),
          ...(params.description !== undefined && { description: params.description }),
          ...(params.metadata !== undefined && { metadata: { ...endpoint.metadata, ...(params.metadata as object) } }),
          ...(params.disabled !== undefined && { status: params.disabled === 'true' ? 'disabled' : 'enabled' }),
        });
        return HttpResponse.json(endpoint);
      }),
      http.get(`${base}/events/:id`, async ({ request, params: path }) => {
        await record(request);
        const found = this.events.find((e) => e.event.id === path.id);
        return found ? HttpResponse.json(found.event) : notFound(String(path.id));
      }),
      http.get(`${base}/events`, async ({ request }) => {
        const params = await record(request);
        const created = (params.created ?? {}) as Record<string, string>;
        const types = params.types as string[] | undefined;
        const type = params.type as string | undefined;
        const typeMatch = (t: string) =>
          type === undefined || new RegExp(`^${type.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`).test(t);
        const selected = this.events
          .filter(({ event, delivered }) => {
            return (
              (params.delivery_success === undefined || String(delivered) === params.delivery_success) &&
              (created.gte === undefined || event.created >= Number(created.gte)) &&
              (created.lt === undefined || event.created < Number(created.lt)) &&
              (!types || types.includes(event.type)) &&
              typeMatch(event.type)
            );
          })
          .map((e) => e.event)
          .reverse();
        return HttpResponse.json(page(selected, params, '/v1/events'));
      }),
    ];
  }
}

function page<T extends { id: string }>(items: readonly T[], params: Record<string, unknown>, url: string) {
  const limit = Number(params.limit ?? 10);
  const after = params.starting_after as string | undefined;
  const start = after ? items.findIndex((i) => i.id === after) + 1 : 0;
  const data = items.slice(start, start + limit);
  return { object: 'list', url, has_more: start + limit < items.length, data };
}
