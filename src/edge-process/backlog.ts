// What the edge keeps while no daemon listens: access records (bounded,
// the overflow counted) and log lines (appended to STATE/logs/edge.log,
// bounded in size). Both go to the next daemon that connects.
import { closeSync, fstatSync, renameSync, writeSync } from 'node:fs';
import type { ExchangeRecord, ObservationBatch } from '../edge/index.ts';
import { openAppendPrivate } from './files.ts';
import { RECORDS_PER_EVENT } from './protocol.ts';

export const BACKLOG_RECORDS = 10_000;

/** Access records waiting for a daemon; past the bound, new ones are counted and dropped. */
export class RecordBacklog {
  readonly #limit: number;
  #records: ExchangeRecord[] = [];
  #dropped = 0;

  constructor(limit = BACKLOG_RECORDS) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#records.length;
  }

  add(records: readonly ExchangeRecord[], dropped: number): void {
    const room = Math.max(0, this.#limit - this.#records.length);
    for (let i = 0; i < Math.min(room, records.length); i++) this.#records.push(records[i]!);
    this.#dropped += dropped + Math.max(0, records.length - room);
  }

  /** The backlog as batches of at most RECORDS_PER_EVENT records (the drop count on the first); empties it. */
  take(connections: number): ObservationBatch[] {
    if (this.#records.length === 0 && this.#dropped === 0) return [];
    const out: ObservationBatch[] = [];
    for (let i = 0; i === 0 || i < this.#records.length; i += RECORDS_PER_EVENT) {
      out.push({ engine: 0, sites: {}, connections, records: this.#records.slice(i, i + RECORDS_PER_EVENT), dropped: i === 0 ? this.#dropped : 0 });
    }
    this.#records = [];
    this.#dropped = 0;
    return out;
  }
}

/** A batch cut into events of at most RECORDS_PER_EVENT records (counters on the first). */
export function splitBatch(batch: ObservationBatch): ObservationBatch[] {
  if (batch.records.length <= RECORDS_PER_EVENT) return [batch];
  const out: ObservationBatch[] = [];
  for (let i = 0; i < batch.records.length; i += RECORDS_PER_EVENT) {
    out.push({ ...batch, sites: i === 0 ? batch.sites : {}, records: batch.records.slice(i, i + RECORDS_PER_EVENT), dropped: i === 0 ? batch.dropped : 0 });
  }
  return out;
}

export const LOG_FILE_BYTES = 8 * 1024 * 1024;

/** Appends lines to edge.log; past LOG_FILE_BYTES the file becomes edge.log.1 (the one before goes) and a new one starts. */
export class LogFile {
  readonly #path: string;
  readonly #limit: number;
  #fd: number | null = null;
  #size = 0;

  constructor(path: string, limit = LOG_FILE_BYTES) {
    this.#path = path;
    this.#limit = limit;
  }

  append(line: string): void {
    try {
      if (this.#fd === null) {
        this.#fd = openAppendPrivate(this.#path);
        this.#size = fstatSync(this.#fd).size;
      }
      const text = `${new Date().toISOString()} ${line}\n`;
      if (this.#size + text.length > this.#limit) {
        closeSync(this.#fd);
        this.#fd = null;
        renameSync(this.#path, `${this.#path}.1`);
        this.#fd = openAppendPrivate(this.#path);
        this.#size = 0;
      }
      this.#size += writeSync(this.#fd, text);
    } catch {
      // A log that cannot be written must not stop the edge serving.
    }
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }
}
