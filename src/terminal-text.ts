// Text that berth did not write itself — an app's output, a build's, a
// release description, a config value, a server's error message — made safe
// to show on an operator's terminal. Such text may carry control sequences:
// a screen clear, a window title, an OSC 52 write to the clipboard, a lone
// carriage return that overwrites the line with a fake `berth |` prefix, a
// bidi override that shows the text in another order than it is. Each such
// character is shown as a visible escape instead, so the text reads as what
// it is and drives nothing:
//
//   C0 controls (U+0000–U+001F) but tab  →  \n \r \t or \xNN   (ESC is \x1b)
//   DEL and C1 controls (U+007F–U+009F)   →  \uNNNN
//   Unicode format characters (Cf: bidi embeddings, overrides and isolates,
//   marks, zero-width spaces, BOM, tags …) and the line and paragraph
//   separators (U+2028, U+2029)            →  \uNNNN (astral ones as a
//                                              UTF-16 pair: \udb40\udc41)
//
// Escaping ESC is enough to defuse every escape sequence (CSI, OSC, DCS…):
// what follows it is printable text. The two joiners (U+200C, U+200D) stay,
// since scripts and emoji need them and they move nothing.
//
// Every escape other than \xNN is also a JSON escape, and JSON text holds no
// raw C0 character, so escaping a JSON document leaves a JSON document with
// exactly the same value: JSON answers stay exact and still cannot drive a
// terminal (JSON.stringify leaves C1 and format characters raw).

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|(?![\u200c\u200d])\p{Cf}/gu;

export interface EscapeOptions {
  /** Keep line feeds (and CR LF pairs) as they are, for text shown over several lines; default false. */
  readonly keepNewlines?: boolean;
  /** Keep tabs as they are; default true (false in table cells, where a tab breaks the columns). */
  readonly keepTabs?: boolean;
}

function unicodeEscape(char: string): string {
  let out = '';
  for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/** `text` with every control and format character shown as a visible escape (see above). */
export function escapeControls(text: string, options: EscapeOptions = {}): string {
  const keepNewlines = options.keepNewlines === true;
  const keepTabs = options.keepTabs !== false;
  return text.replace(UNSAFE, (char, offset: number) => {
    const code = char.codePointAt(0)!;
    if (code === 0x09) return keepTabs ? char : '\\t';
    if (code === 0x0a) return keepNewlines ? char : '\\n';
    // A CR is only harmless right before the LF it ends a line with.
    if (code === 0x0d) return keepNewlines && text.charCodeAt(offset + 1) === 0x0a ? char : '\\r';
    if (code < 0x20) return `\\x${code.toString(16).padStart(2, '0')}`;
    return unicodeEscape(char);
  });
}
