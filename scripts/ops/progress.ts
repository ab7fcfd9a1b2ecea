/** Counts shown while events are posted. */
export interface Counts {
  readonly done: number;
  readonly total: number;
  readonly processed: number;
  readonly ignored: number;
  readonly duplicate: number;
  readonly failed: number;
}

export interface Progress {
  update(counts: Counts): void;
  finish(counts: Counts): void;
}

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

function tally(c: Counts): string {
  return `processed ${c.processed}, ignored ${c.ignored}, duplicate ${c.duplicate}, failed ${c.failed}`;
}

/**
 * A progress bar redrawn in place on a terminal; on anything else (CI logs, files) one line per
 * 5 % of the work, so logs stay short.
 */
export function createProgress(label: string, stream: ProgressStream = process.stderr): Progress {
  if (stream.isTTY) {
    let last = '';
    const draw = (c: Counts) => {
      const width = 24;
      const filled = c.total ? Math.round((c.done / c.total) * width) : width;
      const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${c.done}/${c.total} ${tally(c)}`;
      const clipped = line.slice(0, Math.max(20, (stream.columns ?? 120) - 1));
      if (clipped !== last) {
        stream.write(`\r\u001b[2K${clipped}`);
        last = clipped;
      }
    };
    return {
      update: draw,
      finish: (c) => {
        draw(c);
        stream.write('\n');
      },
    };
  }
  let reported = 0;
  return {
    update: (c) => {
      const step = Math.max(1, Math.ceil(c.total / 20));
      const bucket = Math.floor(c.done / step);
      if (c.done > 0 && c.done < c.total && bucket !== reported) {
        reported = bucket;
        stream.write(`${label}: ${c.done}/${c.total} (${tally(c)})\n`);
      }
    },
    finish: (c) => {
      stream.write(`${label}: ${c.done}/${c.total} (${tally(c)})\n`);
    },
  };
}
