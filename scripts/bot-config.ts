import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** One entry of medplum.config.json, the file the Medplum CLI reads for `medplum bot deploy <name>`. */
export interface BotEntry {
  readonly name: string;
  readonly id: string;
  readonly source: string;
  readonly dist: string;
}

export const PROJECT_ROOT = resolve(import.meta.dirname, '..');
export const CONFIG_PATH = resolve(PROJECT_ROOT, 'medplum.config.json');

export function readBotEntries(configPath = CONFIG_PATH): BotEntry[] {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { bots?: BotEntry[] };
  return config.bots ?? [];
}
