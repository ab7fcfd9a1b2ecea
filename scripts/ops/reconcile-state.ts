import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PROJECT_ROOT } from '../bot-config';

export function defaultReconcileStatePath(): string {
  return resolve(PROJECT_ROOT, '.data', 'reconcile-state.jsonl');
}

/** An interrupted run older than this is not resumed: what it saw of Stripe is out of date. */
export const MAX_RESUME_AGE_MS = 24 * 3_600_000;

type Line =
  | { readonly scope: string; readonly run: string; readonly start: string; readonly window: string }
  | { readonly scope: string; readonly run: string; readonly end: string }
  | {
      readonly scope: string;
      readonly run: string;
      readonly id: string;
      readonly outcome: string;
      readonly at: string;
    };

/**
 * Reconcile's resume state: the events one run has posted. Unlike replay's state, it is reused only
 * to finish the same run — the last run of this scope, interrupted (no end line), for the same
 * window, and younger than MAX_RESUME_AGE_MS. Entries of any other run are not reused, and `note`
 * says which were left and why: a discrepancy seen today must be repaired even if an earlier run
 * posted the same event.
 */
export class ReconcileState {
  private readonly done = new Set<string>();
  /** What was reused or left, for the log. */
  note?: string;

  private constructor(
    private readonly path: string | undefined,
    private readonly scope: string,
    readonly run: string,
    private readonly write: boolean
  ) {}

  /**
   * Opens the state for a run over `window` (e.g. `since..until`), started at `now`. `write` false
   * (a dry run) reads but never writes. Without a path, nothing is remembered.
   */
  static open(path: string | undefined, scope: string, window: string, now: Date, write = true): ReconcileState {
    const lines = path && existsSync(path) ? parseLines(readFileSync(path, 'utf8'), scope) : [];
    const starts = lines.filter((l): l is Extract<Line, { start: string }> => 'start' in l);
    const last = starts[starts.length - 1];
    const ended = new Set(lines.filter((l) => 'end' in l).map((l) => l.run));
    const entries = lines.filter((l): l is Extract<Line, { id: string }> => 'id' in l);
    const resumable =
      last &&
      !ended.has(last.run) &&
      last.window === window &&
      now.getTime() - Date.parse(last.start) <= MAX_RESUME_AGE_MS;
    const state = new ReconcileState(path, scope, resumable ? last.run : now.toISOString(), write);
    const reused = resumable ? entries.filter((e) => e.run === last.run) : [];
    for (const entry of reused) {
      state.done.add(entry.id);
    }
    const left = entries.length - reused.length;
    const notes: string[] = [];
    if (resumable) {
      notes.push(
        `resuming the interrupted run of ${last.run}: ${reused.length} event(s) it posted are not posted again`
      );
    } else if (last && !ended.has(last.run)) {
      const why =
        last.window !== window
          ? `it covered another window (${last.window})`
          : `it started more than ${MAX_RESUME_AGE_MS / 3_600_000} h ago, so what it saw of Stripe is out of date`;
      notes.push(`not resuming the interrupted run of ${last.run}: ${why}`);
    }
    if (left > 0) {
      notes.push(`${left} event(s) posted by earlier runs are not reused (a new run posts what it needs again)`);
    }
    if (notes.length) {
      state.note = notes.join('; ');
    }
    if (write && path && !resumable) {
      state.append({ scope, run: state.run, start: now.toISOString(), window });
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
    this.append({ scope: this.scope, run: this.run, id, outcome, at: new Date().toISOString() });
  }

  /** The run finished (not interrupted): a later run starts afresh. */
  finish(): void {
    this.append({ scope: this.scope, run: this.run, end: new Date().toISOString() });
  }

  private append(line: Line): void {
    if (!this.path || !this.write) {
      return;
    }
    mkdirSync(dirname(this.path), { recursive: true });
    appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }
}

function parseLines(text: string, scope: string): Line[] {
  const lines: Line[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.trim()) {
      continue;
    }
    try {
      const line = JSON.parse(raw) as Partial<Line>;
      if (line.scope === scope && typeof line.run === 'string') {
        lines.push(line as Line);
      }
    } catch {
      // A line cut short by a crash: that event is simply posted again.
    }
  }
  return lines;
}
