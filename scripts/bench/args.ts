export const SECTIONS = ['bundles', 'requests', 'throughput', 'cpu'] as const;
export type Section = (typeof SECTIONS)[number];
export type ValidateMode = 'off' | 'on' | 'both';

export interface BenchArgs {
  /** Deliveries in the throughput and CPU streams. */
  readonly events: number;
  /** Deliveries in the (validated) stream that counts requests per event. */
  readonly requestEvents: number;
  readonly warmup: number;
  readonly requireRuns: number;
  readonly checkpointEvery: number;
  readonly seed: number;
  readonly validate: ValidateMode;
  /**
   * Events of the validated throughput run when `validate` is `both` (the unvalidated one gets
   * `events`): the in-memory store's scans make a 10,000-event run take about 9 minutes on 2 cores.
   */
  readonly validatedEvents: number;
  readonly timeLimitSeconds: number;
  readonly families: readonly string[];
  readonly sections: readonly Section[];
  readonly json?: string;
  readonly quick: boolean;
  readonly help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]   (or: npx tsx scripts/bench.ts [options] after npm run build)

  --events N          deliveries in the throughput and CPU streams (default 10000)
  --quick             a quick try: --events 500, fewer require runs and request events
  --validated-events N  events of the validated throughput run with --validate both
                      (default: the smaller of --events and 2000, to keep the run near 10 minutes)
  --validate MODE     throughput on the harness with write validation off, on, or both (default both)
  --request-events N  deliveries in the validated stream that counts requests (default 1000)
  --warmup N          unmeasured events before the CPU run (default 500)
  --require-runs N    fresh node processes per bundle for the cold require time (default 10)
  --checkpoint N      throughput checkpoint every N events (default events / 10)
  --time-limit S      stop each throughput run after S seconds, reporting what was done (default: none)
  --seed N            stream seed (default 1)
  --family NAME[,..]  event families to run (default: all in scripts/bench/families)
  --only SECTION[,..] bundles, requests, throughput, cpu (default: all)
  --json FILE         also write the figures as JSON
`;

export function parseArgs(argv: readonly string[]): BenchArgs {
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--quick' || arg === '--help' || arg === '-h') {
      switches.add(arg === '-h' ? '--help' : arg);
      continue;
    }
    if (!arg.startsWith('--')) {
      throw new Error(`Unexpected argument ${arg}\n${USAGE}`);
    }
    const eq = arg.indexOf('=');
    const [name, value] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, argv[++i]];
    if (value === undefined) {
      throw new Error(`${name} needs a value\n${USAGE}`);
    }
    flags.set(name, value);
  }
  const known = new Set([
    '--events',
    '--validated-events',
    '--validate',
    '--request-events',
    '--warmup',
    '--require-runs',
    '--checkpoint',
    '--time-limit',
    '--seed',
    '--family',
    '--only',
    '--json',
  ]);
  const unknown = [...flags.keys()].filter((k) => !known.has(k));
  if (unknown.length) {
    throw new Error(`Unknown option(s) ${unknown.join(', ')}\n${USAGE}`);
  }
  const quick = switches.has('--quick');
  const int = (name: string, fallback: number, min = 0): number => {
    const raw = flags.get(name);
    if (raw === undefined) {
      return fallback;
    }
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      throw new Error(`${name} must be an integer ≥ ${min}, not ${raw}`);
    }
    return value;
  };
  const list = (name: string): string[] =>
    (flags.get(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);

  const events = int('--events', quick ? 500 : 10_000, 1);
  const validate = (flags.get('--validate') ?? 'both') as ValidateMode;
  if (!['off', 'on', 'both'].includes(validate)) {
    throw new Error(`--validate must be off, on or both, not ${validate}`);
  }
  const sections = list('--only') as Section[];
  const badSections = sections.filter((s) => !SECTIONS.includes(s));
  if (badSections.length) {
    throw new Error(`Unknown section(s) ${badSections.join(', ')}; known: ${SECTIONS.join(', ')}`);
  }
  return {
    events,
    requestEvents: int('--request-events', quick ? 200 : 1000, 1),
    warmup: int('--warmup', quick ? 100 : 500),
    requireRuns: int('--require-runs', quick ? 5 : 10, 1),
    checkpointEvery: int('--checkpoint', Math.max(50, Math.round(events / 10)), 1),
    seed: int('--seed', 1),
    validate,
    validatedEvents: int('--validated-events', Math.min(events, 2000), 1),
    timeLimitSeconds: int('--time-limit', 0),
    families: list('--family'),
    sections: sections.length ? sections : [...SECTIONS],
    ...(flags.get('--json') && { json: flags.get('--json') }),
    quick,
    help: switches.has('--help'),
  };
}
