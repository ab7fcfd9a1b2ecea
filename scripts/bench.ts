/**
 * `npm run bench`: the performance figures of docs/design.md, "Performance", recorded in docs/benchmarks.md.
 *
 * 1. bundle bytes and cold `require` time per bot;
 * 2. FHIR requests per event, per event family, on the validating in-process harness;
 * 3. events per second through router + bots on the in-process harness (Medplum's in-memory
 *    repository), with checkpoints, peak memory and the store size;
 * 4. bot CPU per event on a constant-time store, against the 2 ms budget.
 *
 * Each measurement of 2–4 runs in its own node process. Not part of CI or `npm test`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, platform, arch, tmpdir, totalmem, release } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, USAGE, type BenchArgs } from './bench/args';
import { measureBundles, type BundleFigures } from './bench/bundles';
import { print } from './bench/console';
import type { CpuFigures } from './bench/cpu';
import { selectFamilies, type BenchFamily } from './bench/families';
import type { RequestFigures } from './bench/requests';
import { fixed, table } from './bench/stats';
import type { ThroughputFigures } from './bench/throughput';

interface Report {
  readonly meta: {
    readonly date: string;
    readonly command: string;
    readonly node: string;
    readonly platform: string;
    readonly cpus: string;
    readonly memoryGiB: number;
    readonly args: BenchArgs;
  };
  readonly bundles?: readonly BundleFigures[];
  readonly requests: RequestFigures[];
  readonly throughput: ThroughputFigures[];
  readonly cpu: CpuFigures[];
}

const CHILD_SCRIPT = resolve(import.meta.dirname, 'bench', 'child.ts');

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    print(USAGE);
    return;
  }
  const families = selectFamilies(args.families);
  const cpuList = cpus();
  const report: Report = {
    meta: {
      date: new Date().toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      node: process.version,
      platform: `${platform()} ${arch()} (${release()})`,
      cpus: `${cpuList.length} × ${cpuList[0]?.model ?? 'unknown CPU'}`,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      args,
    },
    requests: [],
    throughput: [],
    cpu: [],
  };
  print(`stripe-medplum benchmark — ${report.meta.date}`);
  print(`${report.meta.command}`);
  print(`Node ${report.meta.node} · ${report.meta.platform} · ${report.meta.cpus} · ${report.meta.memoryGiB} GiB`);
  print(`families: ${families.map((f) => `${f.name} (${f.description})`).join('; ')}`);

  if (args.sections.includes('bundles')) {
    const bundles = measureBundles(args.requireRuns);
    Object.assign(report, { bundles });
    printBundles(bundles);
  }
  if (args.sections.includes('requests')) {
    for (const family of families) {
      report.requests.push(
        await child<RequestFigures>('requests', { family: family.name, events: args.requestEvents, seed: args.seed })
      );
    }
    printRequests(report.requests);
  }
  if (args.sections.includes('throughput')) {
    for (const family of families) {
      for (const validate of args.validate === 'both' ? [false, true] : [args.validate === 'on']) {
        report.throughput.push(await throughput(family, args, validate));
      }
    }
    printThroughput(report.throughput);
  }
  if (args.sections.includes('cpu')) {
    for (const family of families) {
      report.cpu.push(
        await child<CpuFigures>('cpu', {
          family: family.name,
          events: args.events,
          seed: args.seed,
          warmup: args.warmup,
        })
      );
    }
    printCpu(report.cpu);
  }
  printSummary(report);
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify(report, null, 2)}\n`);
    print(`\nfigures written to ${args.json}`);
  }
  const failed = [...report.requests, ...report.throughput, ...report.cpu].some((r) => r.failures > 0);
  if (failed || report.requests.some((r) => r.rejectedWrites > 0)) {
    print('\nSome deliveries failed or writes were rejected: the figures above do not describe a clean run.');
    process.exitCode = 1;
  }
}

function throughput(family: BenchFamily, args: BenchArgs, validate: boolean): Promise<ThroughputFigures> {
  const events = validate && args.validate === 'both' ? args.validatedEvents : args.events;
  return child<ThroughputFigures>('throughput', {
    family: family.name,
    events,
    seed: args.seed,
    validate,
    checkpointEvery: Math.min(args.checkpointEvery, events),
    timeLimitSeconds: args.timeLimitSeconds,
  });
}

/** Runs one measurement in a fresh node process (same tsx loader) and reads its JSON result. */
async function child<T>(kind: string, options: Record<string, unknown>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'stripe-medplum-bench-'));
  const out = join(dir, 'result.json');
  try {
    const code = await new Promise<number | null>((done, fail) => {
      const proc = spawn(process.execPath, [...process.execArgv, CHILD_SCRIPT, kind, JSON.stringify(options), out], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      proc.on('error', fail);
      proc.on('exit', done);
    });
    if (code !== 0) {
      throw new Error(`The ${kind} measurement (${JSON.stringify(options)}) exited with ${code}`);
    }
    return JSON.parse(readFileSync(out, 'utf8')) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function heading(title: string): void {
  print(`\n## ${title}\n`);
}

function printBundles(bundles: readonly BundleFigures[]): void {
  heading(
    `1. Bundles: bytes and cold require (fresh node process, @medplum/core loaded first; median of ${bundles[0]?.runs ?? 0})`
  );
  print(
    table(
      [
        'bot',
        'bytes',
        'KiB',
        'cold require ms',
        'max ms',
        'of which node: built-ins ms',
        '@medplum/core ms (runtime)',
        'requires',
      ],
      bundles.map((b) => [
        b.name,
        b.bytes,
        fixed(b.bytes / 1024),
        fixed(b.coldRequireMs, 2),
        fixed(b.coldRequireMaxMs, 2),
        fixed(b.nodeBuiltinsMs, 2),
        fixed(b.medplumCoreRequireMs, 1),
        b.requires.join(' '),
      ])
    )
  );
}

function printRequests(requests: readonly RequestFigures[]): void {
  heading(
    "2. FHIR requests per event (router + target, validating harness; Stripe's incoming $execute POST not counted)"
  );
  print(
    table(
      ['family', 'events', 'median', 'max', 'mean', 'router median', 'target median', 'failures', 'rejected writes'],
      requests.map((r) => [
        r.family,
        r.events,
        r.perEvent.median,
        r.perEvent.max,
        fixed(r.perEvent.mean, 2),
        r.router.median,
        r.target.median,
        r.failures,
        r.rejectedWrites,
      ])
    )
  );
  for (const r of requests) {
    print(`\n${r.family}, per event type:`);
    print(
      table(
        ['event type', 'events', 'median', 'max', 'mean'],
        r.byType.map((row) => [row.key, row.events, row.median, row.max, fixed(row.mean, 2)])
      )
    );
    print(`\n${r.family}, requests by kind over ${r.events} events:`);
    print(
      table(
        ['request', 'count', 'per event'],
        Object.entries(r.byKind)
          .sort((a, b) => b[1] - a[1])
          .map(([kind, count]) => [kind, count, fixed(count / r.events, 2)])
      )
    );
    if (r.firstFailure) {
      print(`first failure: ${r.firstFailure}`);
    }
  }
}

function printThroughput(runs: readonly ThroughputFigures[]): void {
  heading('3. Throughput: router + target on the in-process harness (Medplum in-memory repository, sequential)');
  print(
    table(
      [
        'family',
        'validation',
        'events',
        'seconds',
        'events/s',
        'CPU s',
        'events/CPU-s',
        'load avg start/end',
        'stored at end',
        'peak RSS MiB',
        'peak heapUsed MiB',
      ],
      runs.map((r) => [
        r.family,
        r.validated ? 'on' : 'off',
        `${r.events}${r.stoppedByTimeLimit ? ` of ${r.requestedEvents} (time limit)` : ''}`,
        fixed(r.seconds, 1),
        fixed(r.eventsPerSecond, 1),
        fixed(r.cpuSeconds, 1),
        fixed(r.eventsPerCpuSecond, 1),
        `${fixed(r.loadAverage[0], 1)} / ${fixed(r.loadAverage[1], 1)}`,
        `${r.store.total} (${r.store.byType.Communication ?? 0} archives)`,
        fixed(r.memory.peakRssMiB, 0),
        fixed(r.memory.peakHeapUsedMiB, 0),
      ])
    )
  );
  for (const r of runs) {
    print(`\n${r.family}, validation ${r.validated ? 'on' : 'off'}: checkpoints`);
    print(
      table(
        [
          'events',
          'elapsed s',
          'events/s (window)',
          'events/s (cumulative)',
          'CPU ms/event (window)',
          'stored',
          'archives',
          'RSS MiB',
          'heap MiB',
        ],
        r.checkpoints.map((c) => [
          c.events,
          fixed(c.elapsedSeconds, 1),
          fixed(c.windowEventsPerSecond, 1),
          fixed(c.cumulativeEventsPerSecond, 1),
          fixed(c.windowCpuMsPerEvent, 1),
          c.storedResources,
          c.archives,
          fixed(c.rssMiB, 0),
          fixed(c.heapUsedMiB, 0),
        ])
      )
    );
    print(
      `stored at end: ${Object.entries(r.store.byType)
        .map(([type, n]) => `${type} ${n}`)
        .join(
          ', '
        )}; ${r.store.versions} versions kept; memory baseline RSS ${fixed(r.memory.baselineRssMiB, 0)} MiB, ` +
        `heapUsed ${fixed(r.memory.baselineHeapUsedMiB, 0)} MiB (stream generated, before the first delivery)`
    );
    print(
      `outcomes: ${JSON.stringify(r.outcomes)}; failures: ${r.failures}${r.firstFailure ? ` (${r.firstFailure})` : ''}`
    );
  }
}

function printCpu(runs: readonly CpuFigures[]): void {
  heading('4. Bot CPU per event on a constant-time store (real MedplumClient, Map-backed fetch)');
  print(
    table(
      [
        'family',
        'events',
        'process CPU ms/event',
        'store CPU ms/event',
        'bot CPU ms/event',
        'budget',
        'result',
        'wall ms/event',
        'requests/event',
      ],
      runs.map((r) => [
        r.family,
        r.events,
        fixed(r.processCpuMsPerEvent, 3),
        fixed(r.storeCpuMsPerEvent, 3),
        fixed(r.botCpuMsPerEvent, 3),
        `≤ ${r.budgetMsPerEvent} ms`,
        r.pass ? 'PASS' : 'FAIL',
        fixed(r.wallMsPerEvent, 3),
        fixed(r.requestsPerEvent, 2),
      ])
    )
  );
  for (const r of runs) {
    print(
      `${r.family}: CPU self time per event ${Object.entries(r.selfCpuMsPerEventByBot)
        .map(([bot, ms]) => `${bot} ${fixed(ms, 3)} ms`)
        .join(', ')}; user ${fixed(r.userCpuMsPerEvent, 3)} ms + system ${fixed(r.systemCpuMsPerEvent, 3)} ms; ` +
        `${r.warmupEvents} warm-up events first; peak RSS ${fixed(r.memory.peakRssMiB, 0)} MiB; ` +
        `outcomes ${JSON.stringify(r.outcomes)}; failures ${r.failures}${r.firstFailure ? ` (${r.firstFailure})` : ''}`
    );
  }
}

function printSummary(report: Report): void {
  heading('Summary');
  const rows: (string | number)[][] = [];
  for (const b of report.bundles ?? []) {
    rows.push([`bundle ${b.name}`, `${fixed(b.bytes / 1024)} KiB, cold require ${fixed(b.coldRequireMs, 2)} ms`]);
  }
  for (const r of report.requests) {
    rows.push([
      `FHIR requests/event, ${r.family}`,
      `median ${r.perEvent.median}, max ${r.perEvent.max} (router ${r.router.median} + target ${r.target.median}; reference 9)`,
    ]);
  }
  for (const t of report.throughput) {
    rows.push([
      `events/s, ${t.family}, in-memory repo, validation ${t.validated ? 'on' : 'off'}`,
      `${fixed(t.eventsPerSecond, 1)} over ${t.events} events${t.stoppedByTimeLimit ? ' (time limit)' : ''} ` +
        `(${fixed(t.eventsPerCpuSecond, 1)} per CPU-second), ` +
        `last window ${fixed(t.checkpoints[t.checkpoints.length - 1]?.windowEventsPerSecond ?? Number.NaN, 1)}; ` +
        `${t.store.total} resources stored; peak RSS ${fixed(t.memory.peakRssMiB, 0)} MiB, heapUsed ${fixed(t.memory.peakHeapUsedMiB, 0)} MiB`,
    ]);
  }
  for (const c of report.cpu) {
    rows.push([
      `bot CPU/event, ${c.family}, constant-time store`,
      `${fixed(c.botCpuMsPerEvent, 3)} ms (budget ≤ ${c.budgetMsPerEvent} ms: ${c.pass ? 'PASS' : 'FAIL'}); ` +
        `${fixed(1000 / c.wallMsPerEvent, 0)} events/s wall`,
    ]);
  }
  print(table(['figure', 'value'], rows));
}

await main();
