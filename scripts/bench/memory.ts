import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mib } from './stats';

export interface MemoryFigures {
  /** Before the run (the stream already generated), MiB. */
  readonly baselineRssMiB: number;
  readonly baselineHeapUsedMiB: number;
  /** Highest sample during the run, MiB. */
  readonly peakRssMiB: number;
  readonly peakHeapUsedMiB: number;
  readonly samples: number;
}

/** Samples RSS and heapUsed on a timer and whenever `sample()` is called; keeps the maxima. */
export class MemorySampler {
  private readonly baseline = process.memoryUsage();
  private peakRss = this.baseline.rss;
  private peakHeap = this.baseline.heapUsed;
  private samples = 1;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): { rss: number; heapUsed: number } {
    const { rss, heapUsed } = process.memoryUsage();
    this.peakRss = Math.max(this.peakRss, rss);
    this.peakHeap = Math.max(this.peakHeap, heapUsed);
    this.samples++;
    return { rss, heapUsed };
  }

  stop(): MemoryFigures {
    clearInterval(this.timer);
    this.sample();
    return {
      baselineRssMiB: mib(this.baseline.rss),
      baselineHeapUsedMiB: mib(this.baseline.heapUsed),
      peakRssMiB: mib(this.peakRss),
      peakHeapUsedMiB: mib(this.peakHeap),
      samples: this.samples,
    };
  }
}

let gc: (() => void) | undefined;

/** A full garbage collection, so that a baseline does not carry the garbage of the setup. */
export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
