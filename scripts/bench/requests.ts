import { BOT_NAME } from '../../src/constants';
import type { RouterResult } from '../../src/router/router';
import { progress, quietly } from './console';
import type { BenchFamily } from './families';
import { harnessProject } from './project';
import { max, mean, median } from './stats';

export interface Distribution {
  readonly median: number;
  readonly max: number;
  readonly mean: number;
}

export interface RequestRow extends Distribution {
  /** Event type, or `duplicate delivery` for redeliveries the router answered from the archive. */
  readonly key: string;
  readonly events: number;
}

export interface RequestFigures {
  readonly family: string;
  readonly events: number;
  readonly validated: true;
  /** Router + target requests per delivered event. */
  readonly perEvent: Distribution;
  readonly router: Distribution;
  readonly target: Distribution;
  /** Per event type (first deliveries) and one row for duplicate deliveries. */
  readonly byType: readonly RequestRow[];
  /** Requests by method and resource type over the whole stream, e.g. `POST Communication`. */
  readonly byKind: Record<string, number>;
  readonly outcomes: Record<string, number>;
  readonly failures: number;
  readonly firstFailure?: string;
  /** Writes the validating harness refused (must be 0: the stream is valid). */
  readonly rejectedWrites: number;
}

/**
 * FHIR requests per event through router + target on the validating in-process harness, counted
 * from the requests the server records with their caller. The `$execute` POST that Stripe sends
 * is not counted (its caller is Stripe's ClientApplication); the router's dispatch to the target
 * (`Bot/$execute`) is, as the router's.
 */
export async function measureRequests(family: BenchFamily, events: number, seed: number): Promise<RequestFigures> {
  const stream = family.makeStream(events, seed);
  const project = await harnessProject(family, true);
  const server = project.server;
  const routerCaller = `Bot/${server.botId(BOT_NAME.router)}`;
  const perEvent: number[] = [];
  const router: number[] = [];
  const target: number[] = [];
  const rows = new Map<string, number[]>();
  const byKind: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  let failures = 0;
  let firstFailure: string | undefined;

  await quietly(async () => {
    for (const [i, event] of stream.entries()) {
      const before = server.requests.length;
      const response = await project.deliver(event);
      const made = server.requests.slice(before).filter((r) => r.caller.startsWith('Bot/'));
      if (response.status !== 200) {
        failures++;
        firstFailure ??= `${event.type} ${event.id}: ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`;
        continue;
      }
      const result = response.body as RouterResult;
      outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
      const ofRouter = made.filter((r) => r.caller === routerCaller).length;
      perEvent.push(made.length);
      router.push(ofRouter);
      target.push(made.length - ofRouter);
      const key = result.outcome === 'duplicate' ? 'duplicate delivery' : event.type;
      const row = rows.get(key) ?? [];
      row.push(made.length);
      rows.set(key, row);
      for (const r of made) {
        const kind = `${r.method} ${r.path === '' ? '(batch)' : (r.resourceType ?? r.path)}`;
        byKind[kind] = (byKind[kind] ?? 0) + 1;
      }
      if ((i + 1) % 250 === 0) {
        progress(`requests/${family.name}: ${i + 1}/${stream.length} events`);
      }
    }
  });

  return {
    family: family.name,
    events: stream.length,
    validated: true,
    perEvent: distribution(perEvent),
    router: distribution(router),
    target: distribution(target),
    byType: [...rows]
      .map(([key, counts]) => ({ key, events: counts.length, ...distribution(counts) }))
      .sort((a, b) => (a.key === 'duplicate delivery' ? 1 : b.key === 'duplicate delivery' ? -1 : b.events - a.events)),
    byKind,
    outcomes,
    failures,
    ...(firstFailure && { firstFailure }),
    rejectedWrites: server.repo.rejected.length,
  };
}

function distribution(values: readonly number[]): Distribution {
  return { median: median(values), max: values.length ? max(values) : Number.NaN, mean: mean(values) };
}
