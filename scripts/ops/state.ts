import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PROJECT_ROOT } from '../bot-config';

/** Where replay and backfill remember the events they have posted (`.data/` is gitignored). */
export function defaultStatePath(kind: 'replay' | 'backfill'): string {
  return resolve(PROJECT_ROOT, '.data', `${kind}-state.jsonl`);
}

interface StateLine {
  readonly scope: string;
  readonly id: string;
  readonly outcome: string;
  readonly at: string;
}

/**
 * The event ids a replay or backfill has posted successfully, so that a rerun after a crash or an
 * interruption does not post them again (unless forced). One JSON line is appended per event
 * as soon as it succeeds, so a crash loses nothing already done, and the file never has to be
 * rewritten. `scope` keeps runs against different servers, projects or routers apart.
 */
export class DoneState {
  private readonly done = new Set<string>();

  private constructor(
    readonly path: string,
    readonly scope: string
  ) {}

  static load(path: string, scope: string): DoneState {
    const state = new DoneState(path, scope);
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (!line.trim()) {
          continue;
        }
        try {
          const entry = JSON.parse(line) as Partial<StateLine>;
          if (entry.scope === scope && typeof entry.id === 'string') {
            state.done.add(entry.id);
          }
        } catch {
          // A line cut short by a crash: that event is simply posted again.
        }
      }
    }
    return state;
  }

  get size(): number {
    return this.done.size;
  }

  has(id: string): boolean {
    return this.done.has(id);
  }

  markDone(id: string, outcome: string): void {
    this.done.add(id);
    mkdirSync(dirname(this.path), { recursive: true });
    const line: StateLine = { scope: this.scope, id, outcome, at: new Date().toISOString() };
    appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }
}
