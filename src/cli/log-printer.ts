import { escapeControls } from '../terminal-text.ts';

/**
 * Foreman-style output: every line prefixed with the time and its source
 * (`web.1`, `worker.1`, `berth`), sources padded to one width and coloured
 * when the output is a terminal.
 */
const COLOURS = [36, 33, 32, 35, 34, 91, 92, 93, 94, 95, 96];

export class LogPrinter {
  readonly #out: NodeJS.WriteStream | { write(text: string): unknown; isTTY?: boolean };
  readonly #colour: boolean;
  readonly #assigned = new Map<string, number>();
  #width = 6;

  constructor(out: NodeJS.WriteStream | { write(text: string): unknown; isTTY?: boolean } = process.stdout) {
    this.#out = out;
    this.#colour = Boolean(out.isTTY) && process.env.NO_COLOR === undefined;
  }

  /** Makes room for names known in advance so columns do not shift later. */
  reserve(names: readonly string[]): void {
    for (const name of names) this.#width = Math.max(this.#width, name.length);
  }

  line(source: string, text: string): void {
    this.#width = Math.max(this.#width, source.length);
    const time = new Date().toTimeString().slice(0, 8);
    let label = `${time} ${source.padEnd(this.#width)} |`;
    if (this.#colour) {
      let colour = this.#assigned.get(source.split('.')[0]!);
      if (colour === undefined) {
        colour = source === 'berth' ? 37 : COLOURS[this.#assigned.size % COLOURS.length]!;
        this.#assigned.set(source.split('.')[0]!, colour);
      }
      label = `\x1b[${colour}m${label}\x1b[0m`;
    }
    // The text is an app's output (or names what an app did): shown, never obeyed by the terminal.
    this.#out.write(`${label} ${escapeControls(text)}\n`);
  }
}
