/**
 * Runs one measurement in its own node process, so that its memory figures and JIT state do not
 * carry what an earlier measurement left: `tsx scripts/bench/child.ts <kind> <options JSON> <out file>`.
 */
import { writeFileSync } from 'node:fs';
import { measureCpu } from './cpu';
import { selectFamilies } from './families';
import { measureRequests } from './requests';
import { measureThroughput, type ThroughputOptions } from './throughput';

export type ChildKind = 'requests' | 'throughput' | 'cpu';

const [kind, optionsJson, outFile] = process.argv.slice(2);
if (!kind || !optionsJson || !outFile) {
  throw new Error('usage: child.ts <requests|throughput|cpu> <options JSON> <out file>');
}
const options = JSON.parse(optionsJson) as { family: string; events: number; seed: number } & Partial<
  ThroughputOptions & { warmup: number }
>;
const [family] = selectFamilies([options.family]);
if (!family) {
  throw new Error(`No family ${options.family}`);
}
let result: unknown;
if (kind === 'requests') {
  result = await measureRequests(family, options.events, options.seed);
} else if (kind === 'throughput') {
  result = await measureThroughput(family, {
    events: options.events,
    seed: options.seed,
    validate: options.validate ?? false,
    checkpointEvery: options.checkpointEvery ?? 1000,
    timeLimitSeconds: options.timeLimitSeconds ?? 0,
  });
} else if (kind === 'cpu') {
  result = await measureCpu(family, { events: options.events, seed: options.seed, warmup: options.warmup ?? 0 });
} else {
  throw new Error(`Unknown measurement ${kind}`);
}
writeFileSync(outFile, JSON.stringify(result));
