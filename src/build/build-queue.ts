/**
 * Builds waiting their turn: at most `concurrency` run at once on the
 * machine (one by default), so a burst of deploys never starves the running
 * apps of CPU and memory. First come, first served; a waiting build is told
 * how many are ahead of it.
 */
export class BuildQueue {
  readonly #concurrency: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(concurrency = 1) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`build concurrency must be a whole number ≥ 1, got ${concurrency}`);
    this.#concurrency = concurrency;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  async run<T>(work: () => Promise<T>, onWait: (ahead: number) => void = () => {}): Promise<T> {
    if (this.#running >= this.#concurrency) {
      onWait(this.#waiting.length + this.#running - this.#concurrency + 1);
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next build, or give it back.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
