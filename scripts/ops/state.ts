import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PROJECT_ROOT } from '../bot-config';

/** Where replay and backfill remember the events they have posted (`.data/` is gitignored). */
export function defaultStatePath(kind: 'replay' | 'backfill'): string {
  return resolve(PROJECT_ROOT, '.data', `${kind}-state.jsonl`);
}

interface StateLine {
  readonly scope: string;
  /** A posted event, or absent on the line that closes a run. */
  readonly id?: string;
  readonly outcome?: string;
  /** True on the line written when a run ended with every event posted. */
  readonly closed?: boolean;
  readonly at: string;
}

/**
 * The event ids a replay or backfill has posted successfully, so that a rerun after a crash, an
 * interruption or failures does not post them again (unless forced). One JSON line is appended per
 * event as soon as it succeeds, so a crash loses nothing already done, and the file never has to be
 * rewritten. `scope` is one run's identity: server, project, router and the selection (the options
 * that choose the events). Only an unfinished run of the same scope is resumed: a run that posted
 * everything closes its scope, and the state of other scopes is never used.
 */
export class DoneState {
  private readonly done = new Set<string>();
  /** When the resumed run posted its last event. */
  private resumedAt: string | undefined;
  /** When an earlier run of this scope finished (its state is not reused). */
  private closedAt: string | undefined;
  private readonly otherScopes = new Set<string>();

  private constructor(
    readonly path: string,
    readonly scope: string
  ) {}

  static load(path: string, scope: string): DoneState {
    const state = new DoneState(path, scope);
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (line.trim()) {
          state.apply(line);
        }
      }
    }
    return state;
  }

  private apply(line: string): void {
    let entry: Partial<StateLine>;
    try {
      entry = JSON.parse(line) as Partial<StateLine>;
    } catch {
      // A line cut short by a crash: that event is simply posted again.
      return;
    }
    if (entry.scope !== this.scope) {
      if (typeof entry.scope === 'string') {
        this.otherScopes.add(entry.scope);
      }
      return;
    }
    if (entry.closed) {
      this.done.clear();
      this.resumedAt = undefined;
      this.closedAt = entry.at;
    } else if (typeof entry.id === 'string') {
      this.done.add(entry.id);
      this.resumedAt = entry.at;
    }
  }

  get size(): number {
    return this.done.size;
  }

  has(id: string): boolean {
    return this.done.has(id);
  }

  /** What the state file holds that this run does or does not reuse, and why; one line each. */
  describe(): string[] {
    const lines: string[] = [];
    if (this.done.size) {
      lines.push(
        `resuming the unfinished run with the same selection (last event posted ${this.resumedAt ?? '?'}): the ` +
          `${this.done.size} event(s) it posted are skipped (--force posts them again)`
      );
    } else if (this.closedAt) {
      lines.push(`a run with the same selection finished at ${this.closedAt}; its state is not reused`);
    }
    if (this.otherScopes.size) {
      lines.push(
        `${this.path} also holds ${this.otherScopes.size} other run(s) (another selection, server, project or ` +
          'router): not reused'
      );
    }
    return lines;
  }

  markDone(id: string, outcome: string): void {
    this.done.add(id);
    this.append({ scope: this.scope, id, outcome, at: new Date().toISOString() });
  }

  /** The run posted every event it selected: a later run with the same selection starts afresh. */
  close(): void {
    this.done.clear();
    this.append({ scope: this.scope, closed: true, at: new Date().toISOString() });
  }

  private append(line: StateLine): void {
    mkdirSync(dirname(this.path), { recursive: true });
    appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }
}
