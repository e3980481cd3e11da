// A drain's lines waiting to be sent: a FIFO bounded by bytes. A line that
// does not fit is counted, not queued (the app and the daemon never wait for
// a drain); once there is room again, one marker built by the drain ("N lines
// dropped") goes in first, so the receiver sees the gap where it happened.

export class DrainQueue<T extends { readonly bytes: number }> {
  readonly #maxBytes: number;
  readonly #marker: (dropped: number) => T;
  #items: T[] = [];
  #head = 0;
  #bytes = 0;
  /** Dropped since the last marker was queued. */
  #unreported = 0;
  /** Dropped in all, for the drain's status. */
  dropped = 0;

  constructor(maxBytes: number, marker: (dropped: number) => T) {
    this.#maxBytes = maxBytes;
    this.#marker = marker;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Queues `item`; false when it was dropped for want of room. */
  push(item: T): boolean {
    if (this.#unreported > 0) {
      const marker = this.#marker(this.#unreported);
      if (this.#bytes + marker.bytes + item.bytes > this.#maxBytes) return this.#drop(1);
      this.#unreported = 0;
      this.#add(marker);
    }
    if (this.#bytes + item.bytes > this.#maxBytes) return this.#drop(1);
    this.#add(item);
    return true;
  }

  /** Counts `count` lines as lost (a batch given up, a connection that died with lines in it). */
  lost(count: number): void {
    this.#drop(count);
  }

  #drop(count: number): false {
    this.#unreported += count;
    this.dropped += count;
    return false;
  }

  #add(item: T): void {
    this.#items.push(item);
    this.#bytes += item.bytes;
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#head++;
    this.#bytes -= item.bytes;
    // Compact now and then rather than shifting an array per line.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Takes up to `maxCount` items from the front, within `maxBytes` (but always the first, however large). */
  take(maxCount: number, maxBytes: number): T[] {
    const taken: T[] = [];
    let bytes = 0;
    for (let next = this.peek(); next !== undefined && taken.length < maxCount; next = this.peek()) {
      if (taken.length > 0 && bytes + next.bytes > maxBytes) break;
      taken.push(this.shift()!);
      bytes += next.bytes;
    }
    return taken;
  }

  /** Empties the queue; the lines count as dropped. */
  clear(): void {
    const count = this.length;
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    if (count > 0) this.#drop(count);
  }
}
