import { BOT_NAME } from '../../src/constants';
import type { RouterResult } from '../../src/router/router';
import { STRIPE_CLIENT, WEBHOOK_SECRET } from '../../test/harness/project';
import { signatureHeader, stripeBody } from '../../lib/stripe-events/events';
import { progress, quietly } from './console';
import type { ConstantTimeStore } from './constant-time-client';
import type { BenchFamily } from './families';
import { collectGarbage, MemorySampler, type MemoryFigures } from './memory';
import { constantTimeProject } from './project';

/** docs/design.md, "Performance": at most 2 ms of bot CPU per event. */
export const CPU_BUDGET_MS_PER_EVENT = 2;

export interface CpuFigures {
  readonly family: string;
  readonly events: number;
  readonly warmupEvents: number;
  /** Process CPU (user + system, all threads, GC included) while the bots ran, per event. */
  readonly processCpuMsPerEvent: number;
  readonly userCpuMsPerEvent: number;
  readonly systemCpuMsPerEvent: number;
  /** CPU time spent inside the constant-time store and its HTTP stand-in, per event. */
  readonly storeCpuMsPerEvent: number;
  /** The budget figure: process CPU minus the store's time, per event. */
  readonly botCpuMsPerEvent: number;
  /** CPU self time per event of each bot (its own code, the store and nested bots excluded). */
  readonly selfCpuMsPerEventByBot: Record<string, number>;
  /** Wall-clock time per event (affected by other work on the machine; the CPU figures are not). */
  readonly wallMsPerEvent: number;
  readonly budgetMsPerEvent: number;
  readonly pass: boolean;
  /** Requests the bots made per event on this store (a cross-check of the harness count). */
  readonly requestsPerEvent: number;
  readonly store: Record<string, number>;
  readonly memory: MemoryFigures;
  readonly outcomes: Record<string, number>;
  readonly failures: number;
  readonly firstFailure?: string;
}

interface Delivery {
  readonly input: unknown;
  readonly headers: Record<string, string>;
}

/**
 * Bot CPU per event with a constant-time store in place of the repository: router + target run
 * in process on `ConstantTimeStore`, through the real MedplumClient. What Stripe and the server
 * do before the router runs (serialise and sign the body, parse it into the BotEvent) happens
 * outside the measured windows; the bots' own work inside them (signature HMAC over the
 * re-serialised body, archive JSON and base64, mapping, requests and their JSON, logging).
 * A warm-up stream of other objects runs first, unmeasured, so the figure is the steady state.
 */
export async function measureCpu(
  family: BenchFamily,
  options: { events: number; seed: number; warmup: number }
): Promise<CpuFigures> {
  const store = await constantTimeProject(family);
  const warmup = options.warmup > 0 ? family.makeStream(options.warmup, options.seed + 7919) : [];
  const stream = family.makeStream(options.events, options.seed);
  const outcomes: Record<string, number> = {};
  let failures = 0;
  let firstFailure: string | undefined;

  await quietly(async () => {
    for (const event of warmup) {
      await deliver(store, prepare(event)).catch(() => undefined);
    }
  });

  const selfBefore = new Map(store.selfCpuMs);
  const requestsBefore = botRequests(store);
  let cpu = { user: 0, system: 0 };
  let wallMs = 0;
  collectGarbage();
  const sampler = new MemorySampler();
  await quietly(async () => {
    for (const [i, event] of stream.entries()) {
      const delivery = prepare(event);
      const wallStart = performance.now();
      const cpuStart = process.cpuUsage();
      try {
        const result = (await deliver(store, delivery)) as RouterResult;
        outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
      } catch (err) {
        failures++;
        firstFailure ??= `${event.type} ${event.id}: ${String((err as Error).message ?? err).slice(0, 300)}`;
      }
      const used = process.cpuUsage(cpuStart);
      wallMs += performance.now() - wallStart;
      cpu = { user: cpu.user + used.user, system: cpu.system + used.system };
      if ((i + 1) % 1000 === 0) {
        sampler.sample();
        progress(`cpu/${family.name}: ${i + 1}/${stream.length} events`);
      }
    }
  });
  const memory = sampler.stop();

  const n = stream.length;
  const self = (key: string) => ((store.selfCpuMs.get(key) ?? 0) - (selfBefore.get(key) ?? 0)) / n;
  const processCpuMs = (cpu.user + cpu.system) / 1000 / n;
  const storeMs = self('store');
  const botCpu = processCpuMs - storeMs;
  return {
    family: family.name,
    events: n,
    warmupEvents: warmup.length,
    processCpuMsPerEvent: processCpuMs,
    userCpuMsPerEvent: cpu.user / 1000 / n,
    systemCpuMsPerEvent: cpu.system / 1000 / n,
    storeCpuMsPerEvent: storeMs,
    botCpuMsPerEvent: botCpu,
    selfCpuMsPerEventByBot: Object.fromEntries(family.bots.map((name) => [name, self(`bot:${name}`)])),
    wallMsPerEvent: wallMs / n,
    budgetMsPerEvent: CPU_BUDGET_MS_PER_EVENT,
    pass: botCpu <= CPU_BUDGET_MS_PER_EVENT,
    requestsPerEvent: (botRequests(store) - requestsBefore) / n,
    store: store.counts(),
    memory,
    outcomes,
    failures,
    ...(firstFailure && { firstFailure }),
  };
}

/** What Stripe sends and Medplum (≤ 5.1) hands the router: the signed body, parsed. */
function prepare(event: unknown): Delivery {
  const body = stripeBody(event);
  return {
    input: JSON.parse(body),
    headers: {
      'content-type': 'application/json',
      'stripe-signature': signatureHeader(body, WEBHOOK_SECRET),
      authorization: 'Basic c3RyaXBlOnNlY3JldA==',
    },
  };
}

function deliver(store: ConstantTimeStore, delivery: Delivery): Promise<unknown> {
  return store.execute(BOT_NAME.router, delivery.input, { headers: delivery.headers, requester: STRIPE_CLIENT });
}

function botRequests(store: ConstantTimeStore): number {
  let total = 0;
  for (const [caller, count] of store.requestsByCaller) {
    if (caller.startsWith('Bot/')) {
      total += count;
    }
  }
  return total;
}
