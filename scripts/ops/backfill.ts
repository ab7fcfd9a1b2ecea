/**
 * `npm run backfill`: lists events from Stripe's Events API (`GET /v1/events`: the last 30 days by
 * default, only those Stripe failed to deliver unless asked) and posts them to the router as an
 * operator, oldest first. This recovers events the router never saw or rejected (e.g. a signature
 * that re-serialised JSON could not reproduce, docs/design.md, "Router").
 */
import type Stripe from 'stripe';
import { OpsError, type Logger } from './cli';
import type { QueuedEvent, Summary } from './events';
import {
  matchesTypes,
  postToRouter,
  resolveRouterId,
  type EventFilter,
  type ReplayContext,
  type RunOptions,
} from './replay';
import { webhookEventTypes } from './setup-plan';

/** Stripe keeps events for 30 days: the default window. */
export const DEFAULT_BACKFILL_DAYS = 30;
/** Stripe's Events API accepts at most this many exact types in `types`. */
const MAX_TYPES_PARAM = 20;

export interface BackfillFilter extends EventFilter {
  readonly since: Date;
  /** Also events that Stripe delivered (default: only `delivery_success=false`). */
  readonly includeDelivered?: boolean;
}

/**
 * The Events API query of a filter, without paging. Up to 20 exact types go in `types`; a single
 * wildcard pattern goes in `type`; otherwise types are matched after listing. Without types, the
 * router's own event types are kept after listing (what the endpoint subscribes to).
 */
export function eventListParams(filter: BackfillFilter): Stripe.EventListParams {
  const types = filter.types ?? [];
  const params: Stripe.EventListParams = {
    limit: 100,
    created: {
      gte: Math.floor(filter.since.getTime() / 1000),
      ...(filter.until && { lt: Math.ceil(filter.until.getTime() / 1000) }),
    },
  };
  if (!filter.includeDelivered) {
    params.delivery_success = false;
  }
  if (types.length === 1 && types[0]?.includes('*')) {
    params.type = types[0];
  } else if (types.length && types.length <= MAX_TYPES_PARAM && !types.some((t) => t.includes('*'))) {
    params.types = [...types];
  }
  return params;
}

function queued(event: Stripe.Event): QueuedEvent {
  return { id: event.id, type: event.type, created: event.created, json: JSON.stringify(event, null, 2) };
}

/**
 * Every event the filter selects, paging with `starting_after` until Stripe says there is no
 * more, then oldest first (Stripe lists newest first).
 */
export async function listStripeEvents(stripe: Stripe, filter: BackfillFilter, log?: Logger): Promise<QueuedEvent[]> {
  // Events named by id are posted whatever their type; a listing keeps the router's types by default.
  const patterns = filter.types?.length ? filter.types : filter.eventIds?.length ? [] : webhookEventTypes();
  const listed: Stripe.Event[] = [];
  if (filter.eventIds?.length) {
    for (const id of filter.eventIds) {
      listed.push(await stripe.events.retrieve(id));
    }
  } else {
    const params = eventListParams(filter);
    let startingAfter: string | undefined;
    for (let page = 1; ; page++) {
      const list = await stripe.events.list({ ...params, ...(startingAfter && { starting_after: startingAfter }) });
      listed.push(...list.data);
      const last = list.data[list.data.length - 1];
      if (!list.has_more || !last) {
        break;
      }
      startingAfter = last.id;
      if (page % 10 === 0) {
        log?.info(`backfill: ${listed.length} events listed so far…`);
      }
    }
  }
  const kept = listed.filter((e) => matchesTypes(e.type, patterns));
  // Newest first → oldest first; among events of the same second, keep Stripe's order reversed.
  return kept
    .map((event, index) => ({ event, index }))
    .sort((a, b) => a.event.created - b.event.created || b.index - a.index)
    .map(({ event }) => queued(event));
}

export interface BackfillContext extends ReplayContext {
  readonly stripe?: Stripe;
}

export async function runBackfill(
  ctx: BackfillContext,
  filter: BackfillFilter,
  options: RunOptions = {}
): Promise<Summary> {
  if (!ctx.stripe) {
    throw new OpsError(
      'STRIPE_SECRET_KEY is not set: backfill lists events from Stripe (a restricted key with Events read is enough)'
    );
  }
  const routerId = await resolveRouterId(ctx.medplum, options.routerId, options.configPath);
  const events = await listStripeEvents(ctx.stripe, filter, ctx.log);
  ctx.log.info(
    `backfill: ${events.length} Stripe event(s) since ${filter.since.toISOString()}` +
      `${filter.includeDelivered ? '' : ' that Stripe failed to deliver'}, to Bot/${routerId}`
  );
  return postToRouter(ctx, routerId, events, options, 'backfill');
}
