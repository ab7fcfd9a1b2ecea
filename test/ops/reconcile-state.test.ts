import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_RESUME_AGE_MS, ReconcileState } from '../../scripts/ops/reconcile-state';
import { tempDir } from './helpers';

const SCOPE = 'https://medplum.test/|project-1|Bot/router-1|reconcile';
const WINDOW = '2025-01-01T00:00:00.000Z..';
const T0 = new Date('2025-06-01T12:00:00Z');
const later = (ms: number) => new Date(T0.getTime() + ms);

function interruptedRun(path: string, ids: readonly string[]): void {
  const state = ReconcileState.open(path, SCOPE, WINDOW, T0);
  for (const id of ids) {
    state.markDone(id, 'processed');
  }
}

describe('reconcile resume state', () => {
  it('resumes the interrupted run of the same window, within 24 hours', () => {
    const path = join(tempDir(), 'state.jsonl');
    interruptedRun(path, ['evt_1', 'evt_2']);
    const resumed = ReconcileState.open(path, SCOPE, WINDOW, later(3_600_000));
    expect(resumed.run).toBe(T0.toISOString());
    expect([resumed.has('evt_1'), resumed.has('evt_2'), resumed.has('evt_3')]).toEqual([true, true, false]);
    expect(resumed.note).toBe(
      `resuming the interrupted run of ${T0.toISOString()}: 2 event(s) it posted are not posted again`
    );
  });

  it('does not reuse an interrupted run older than 24 hours, nor one of another scope, and says why', () => {
    const path = join(tempDir(), 'state.jsonl');
    interruptedRun(path, ['evt_1']);
    const stale = ReconcileState.open(path, SCOPE, WINDOW, later(MAX_RESUME_AGE_MS + 1));
    expect(stale.has('evt_1')).toBe(false);
    expect(stale.note).toMatch(/^not resuming the interrupted run of .*: it started more than 24 h ago/);
    expect(stale.note).toContain('1 event(s) posted by earlier runs are not reused');

    const otherProject = ReconcileState.open(path, SCOPE.replace('project-1', 'project-2'), WINDOW, later(1000));
    expect(otherProject.has('evt_1')).toBe(false);
    expect(otherProject.note).toBeUndefined();
  });

  it('does not reuse a finished run', () => {
    const path = join(tempDir(), 'state.jsonl');
    const first = ReconcileState.open(path, SCOPE, WINDOW, T0);
    first.markDone('evt_1', 'processed');
    first.finish();
    const next = ReconcileState.open(path, SCOPE, WINDOW, later(1000));
    expect(next.has('evt_1')).toBe(false);
    expect(next.run).toBe(later(1000).toISOString());
    expect(next.note).toBe('1 event(s) posted by earlier runs are not reused (a new run posts what it needs again)');
  });

  it('writes nothing in a dry run, and survives a line cut short by a crash', () => {
    const dir = tempDir();
    const dry = ReconcileState.open(join(dir, 'dry.jsonl'), SCOPE, WINDOW, T0, false);
    dry.markDone('evt_1', 'processed');
    expect(existsSync(join(dir, 'dry.jsonl'))).toBe(false);

    const path = join(dir, 'state.jsonl');
    interruptedRun(path, ['evt_1']);
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, `${text}{"scope":"${SCOPE}","run":"cut`);
    expect(ReconcileState.open(path, SCOPE, WINDOW, later(1000)).has('evt_1')).toBe(true);
  });
});
