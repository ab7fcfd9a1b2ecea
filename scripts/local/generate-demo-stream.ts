/**
 * Writes demo/stream.json, the stream `npm run demo` delivers, from the event builders of
 * lib/stripe-events (fixed seed: the same file on every run). Run it after changing the builders
 * or scripts/local/demo-stream.ts: `npx tsx scripts/local/generate-demo-stream.ts`.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildDemoStream } from './demo-stream';

export const DEMO_STREAM_PATH = resolve(import.meta.dirname, '..', '..', 'demo', 'stream.json');

const stream = buildDemoStream();
writeFileSync(DEMO_STREAM_PATH, `${JSON.stringify(stream, null, 2)}\n`);
process.stdout.write(
  `wrote ${DEMO_STREAM_PATH}: ${stream.events.length} events, ${stream.delivery.flat().length} deliveries in ${stream.delivery.length} waves\n`
);
