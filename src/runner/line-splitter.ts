/**
 * Cuts a byte stream into lines for the log, holding a partial line until its
 * end arrives. A line longer than `maxLine` is emitted in pieces so a process
 * that never prints a newline cannot grow memory without bound.
 */
export class LineSplitter {
  #pending = '';
  readonly #emit: (line: string) => void;
  readonly #maxLine: number;

  constructor(emit: (line: string) => void, maxLine = 16 * 1024) {
    this.#emit = emit;
    this.#maxLine = maxLine;
  }

  push(chunk: string): void {
    let text = this.#pending + chunk;
    let newline = text.indexOf('\n');
    while (newline !== -1) {
      const end = newline > 0 && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      this.#emit(text.slice(0, end));
      text = text.slice(newline + 1);
      newline = text.indexOf('\n');
    }
    while (text.length > this.#maxLine) {
      this.#emit(text.slice(0, this.#maxLine));
      text = text.slice(this.#maxLine);
    }
    this.#pending = text;
  }

  /** Emits what is left when the stream ends. */
  end(): void {
    if (this.#pending !== '') this.#emit(this.#pending);
    this.#pending = '';
  }
}
