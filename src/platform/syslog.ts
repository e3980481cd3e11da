// Syslog messages as RFC 5424 defines them, framed for TCP and TLS by octet
// counting (RFC 6587 §3.4.1, the framing RFC 5425 requires over TLS): pure
// functions over plain data, for the log drains.
//
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
//
// berth sends the app's name as APP-NAME and the line's source (web.1,
// build, berth, access) as PROCID; MSGID and STRUCTURED-DATA are the nil
// value "-", and MSG is the line as it is, without a BOM (MSG-ANY: receivers
// take it as UTF-8 or as bytes, never mangled by a BOM they do not expect).

/** Facilities by name (RFC 5424 §6.2.1): the ones a drain URL may ask for. */
export const FACILITIES: Readonly<Record<string, number>> = {
  user: 1,
  daemon: 3,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

export const SEVERITY = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 } as const;

/** A whole message (frame excluded) is cut to this many bytes: RFC 5425 receivers should take 8192 (and must take 2048). */
export const MAX_SYSLOG_BYTES = 8192;

export interface SyslogMessage {
  readonly facility: number;
  readonly severity: number;
  /** Epoch ms. */
  readonly time: number;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly msgId?: string;
  readonly message: string;
}

/** A header field: printable US-ASCII without spaces (others become "_"), at most `max` characters, "-" when empty. */
export function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** The longest prefix of `text` whose UTF-8 encoding fits `maxBytes`, never splitting a character. */
function cutUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the character that does not fit.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

/** One RFC 5424 message, cut to MAX_SYSLOG_BYTES. */
export function formatSyslog(message: SyslogMessage): string {
  const pri = message.facility * 8 + message.severity;
  const header = [
    `<${pri}>1`,
    new Date(message.time).toISOString(),
    headerField(message.hostname, 255),
    headerField(message.appName, 48),
    headerField(message.procId, 128),
    headerField(message.msgId ?? '', 32),
    '-',
  ].join(' ');
  const text = message.message.replace(/[\r\n]+$/, '');
  return text === '' ? header : cutUtf8(`${header} ${text}`, MAX_SYSLOG_BYTES);
}

/** RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`, the length in bytes. */
export function octetFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
