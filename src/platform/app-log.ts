/**
 * The recent output of one app (instances, builds, deploy events), kept in
 * memory for `berth logs`, with followers for `logs -f`. Persistent,
 * rotated logs come with the observability work; this keeps the last lines.
 */
export interface LogLine {
  readonly at: number;
  readonly source: string;
  readonly text: string;
}

const KEEP_LINES = 2_000;

export class AppLog {
  readonly #lines: LogLine[] = [];
  readonly #followers = new Set<(line: LogLine) => void>();

  add(source: string, text: string, at: number = Date.now()): void {
    const line: LogLine = { at, source, text };
    this.#lines.push(line);
    if (this.#lines.length > KEEP_LINES) this.#lines.shift();
    for (const follower of this.#followers) follower(line);
  }

  /** The last `limit` lines, optionally only those of one process type (`web` matches `web.1`, `web.2`). */
  recent(limit: number, processType: string | null = null): LogLine[] {
    const lines = processType === null ? this.#lines : this.#lines.filter((line) => line.source === processType || line.source.startsWith(`${processType}.`));
    return lines.slice(Math.max(0, lines.length - limit));
  }

  follow(listener: (line: LogLine) => void): () => void {
    this.#followers.add(listener);
    return () => this.#followers.delete(listener);
  }
}

export function formatLogLine(line: LogLine): string {
  return `${new Date(line.at).toISOString()} ${line.source} | ${line.text}`;
}
