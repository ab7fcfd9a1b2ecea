import type { RouterResult } from '../../src/router/router';
import { loadavg } from 'node:os';
import { progress, quietly } from './console';
import type { BenchFamily } from './families';
import { collectGarbage, MemorySampler, type MemoryFigures } from './memory';
import { harnessProject, repositorySize } from './project';
import { mib } from './stats';

export interface Checkpoint {
  /** Events delivered so far. */
  readonly events: number;
  readonly elapsedSeconds: number;
  /** Events per second over the last window (since the previous checkpoint). */
  readonly windowEventsPerSecond: number;
  /** Events per second since the start. */
  readonly cumulativeEventsPerSecond: number;
  /** Process CPU per event over the last window, ms (unlike the rates, not slowed by other work on the machine). */
  readonly windowCpuMsPerEvent: number;
  /** Resources stored (current versions, all types) and archives (Communication) at this point. */
  readonly storedResources: number;
  readonly archives: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
}

export interface ThroughputFigures {
  readonly family: string;
  readonly validated: boolean;
  /** Events asked for, and delivered before the end or the time limit. */
  readonly requestedEvents: number;
  readonly events: number;
  readonly stoppedByTimeLimit: boolean;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Process CPU (user + system) over the run, and events per CPU-second: robust to other work on the machine. */
  readonly cpuSeconds: number;
  readonly eventsPerCpuSecond: number;
  /** 1-minute load average at the start and the end of the run (2 cores: above 2 means contention). */
  readonly loadAverage: readonly [number, number];
  readonly checkpoints: readonly Checkpoint[];
  readonly memory: MemoryFigures;
  /** The repository at the end: current resources by type, their total, and all versions kept. */
  readonly store: { readonly byType: Record<string, number>; readonly total: number; readonly versions: number };
  readonly outcomes: Record<string, number>;
  readonly failures: number;
  readonly firstFailure?: string;
}

export interface ThroughputOptions {
  readonly events: number;
  readonly seed: number;
  readonly validate: boolean;
  readonly checkpointEvery: number;
  /** Stop after this many seconds (0: no limit), reporting the events done so far. */
  readonly timeLimitSeconds: number;
}

/**
 * Events per second through router + target on the in-process harness (Medplum's in-memory
 * repository behind FhirTestServer), delivered one at a time as Stripe would, signed. Medplum's
 * in-memory repository answers each search by scanning every resource of the type, so the rate
 * falls as the store grows: the checkpoints show it.
 */
export async function measureThroughput(family: BenchFamily, options: ThroughputOptions): Promise<ThroughputFigures> {
  const stream = family.makeStream(options.events, options.seed);
  const project = await harnessProject(family, options.validate);
  const repo = project.server.repo;
  const checkpoints: Checkpoint[] = [];
  const outcomes: Record<string, number> = {};
  let failures = 0;
  let firstFailure: string | undefined;
  let delivered = 0;
  let stoppedByTimeLimit = false;

  collectGarbage();
  const sampler = new MemorySampler();
  const loadStart = loadavg()[0] ?? 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  let windowStart = start;
  let windowCpu = cpuStart;
  let windowEvents = 0;
  await quietly(async () => {
    for (const event of stream) {
      const response = await project.deliver(event);
      delivered++;
      windowEvents++;
      if (response.status === 200) {
        const { outcome } = response.body as RouterResult;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      } else {
        failures++;
        firstFailure ??= `${event.type} ${event.id}: ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`;
      }
      if (delivered % 20 === 0) {
        sampler.sample();
      }
      const now = performance.now();
      const elapsedSeconds = (now - start) / 1000;
      const overTime = options.timeLimitSeconds > 0 && elapsedSeconds > options.timeLimitSeconds;
      if (delivered % options.checkpointEvery === 0 || delivered === stream.length || overTime) {
        const { rss, heapUsed } = sampler.sample();
        const cpu = process.cpuUsage(windowCpu);
        windowCpu = process.cpuUsage();
        const size = repositorySize(repo);
        checkpoints.push({
          events: delivered,
          elapsedSeconds,
          windowEventsPerSecond: windowEvents / ((now - windowStart) / 1000),
          cumulativeEventsPerSecond: delivered / elapsedSeconds,
          windowCpuMsPerEvent: (cpu.user + cpu.system) / 1000 / windowEvents,
          storedResources: size.total,
          archives: size.byType.Communication ?? 0,
          rssMiB: mib(rss),
          heapUsedMiB: mib(heapUsed),
        });
        progress(
          `throughput/${family.name} (${options.validate ? 'validated' : 'unvalidated'}): ${delivered}/${stream.length} events, ` +
            `${(windowEvents / ((now - windowStart) / 1000)).toFixed(1)} events/s and ` +
            `${((cpu.user + cpu.system) / 1000 / windowEvents).toFixed(1)} ms CPU/event in the last window, ` +
            `${size.total} resources stored, ${elapsedSeconds.toFixed(0)} s`
        );
        windowStart = now;
        windowEvents = 0;
      }
      if (overTime) {
        stoppedByTimeLimit = delivered < stream.length;
        break;
      }
    }
  });
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const memory = sampler.stop();
  return {
    family: family.name,
    validated: options.validate,
    requestedEvents: stream.length,
    events: delivered,
    stoppedByTimeLimit,
    seconds,
    eventsPerSecond: delivered / seconds,
    cpuSeconds,
    eventsPerCpuSecond: delivered / cpuSeconds,
    loadAverage: [loadStart, loadavg()[0] ?? 0],
    checkpoints,
    memory,
    store: repositorySize(repo),
    outcomes,
    failures,
    ...(firstFailure && { firstFailure }),
  };
}
