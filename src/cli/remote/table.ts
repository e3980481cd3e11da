// Pure formatting for what the remote commands print: tables with a header
// row and aligned columns (as `heroku apps` or `kubectl get`), key/value
// blocks, times and sizes. Nothing here writes; callers pass the text to io.
import { escapeControls } from '../../terminal-text.ts';

/**
 * Anything that came from the server is shown on one line with its control
 * characters visible (escapeControls): a value holding a newline, a tab or an
 * escape sequence must not break the columns or drive the terminal.
 */
export function cell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined || value === '') return '-';
  return escapeControls(String(value), { keepTabs: false });
}

/** Characters as a terminal counts them, near enough: code points, not UTF-16 units. */
function width(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function padEnd(text: string, to: number): string {
  return text + ' '.repeat(Math.max(0, to - width(text)));
}

/**
 * A header row and one row per item, columns two spaces apart, the last
 * column not padded (no trailing spaces). Every line ends with "\n".
 */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | boolean | null | undefined>>): string {
  const cells = rows.map((row) => headers.map((_, i) => cell(row[i])));
  const widths = headers.map((header, i) => Math.max(width(header), ...cells.map((row) => width(row[i]!))));
  const line = (row: readonly string[]) =>
    row
      .map((text, i) => (i === row.length - 1 ? text : padEnd(text, widths[i]!)))
      .join('  ')
      .trimEnd();
  return [headers, ...cells].map((row) => `${line(row)}\n`).join('');
}

/** `key:  value` lines with the values aligned, as `heroku apps:info`. */
export function formatFields(fields: ReadonlyArray<readonly [string, string | number | null | undefined]>): string {
  const keyWidth = Math.max(0, ...fields.map(([key]) => width(key) + 1));
  return fields.map(([key, value]) => `${padEnd(`${key}:`, keyWidth)}  ${cell(value)}\n`).join('');
}

/** An API timestamp (ISO 8601) as `2024-05-01 12:00:00 UTC`; anything else is shown as it is. */
export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '-';
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return cell(iso);
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** 1536 → "1.5 KiB". */
export { formatBytes } from '../../units.ts';

/** `{web: 2, worker: 1}` → "web=2 worker=1", types sorted, so the output is stable. */
export function formatFormation(formation: Readonly<Record<string, number>>, memory: Readonly<Record<string, number>> = {}): string {
  const entries = Object.entries(formation).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.map(([type, count]) => (memory[type] === undefined ? `${type}=${count}` : `${type}=${count}:${shortSize(memory[type])}`)).join(' ');
}

/** 1073741824 → "1g", 536870912 → "512m": sizes as `berth scale` takes them. */
function shortSize(bytes: number): string {
  for (const [unit, size] of [['t', 1024 ** 4], ['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) if (bytes % size === 0) return `${bytes / size}${unit}`;
  return String(bytes);
}

/** `["A", "B", "C"]` → "A, B and C". */
export function formatList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * What `--json` prints: the API's answer, indented, one trailing newline.
 * Characters JSON.stringify leaves raw (C1 controls, bidi overrides) are
 * written as \u escapes: the same JSON value, nothing for a terminal to obey.
 */
export function formatJson(value: unknown): string {
  return `${escapeControls(JSON.stringify(value, null, 2), { keepNewlines: true })}\n`;
}
