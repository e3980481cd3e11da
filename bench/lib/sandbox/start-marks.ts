// When, within one instance start, berth and the app said what: read from
// the app's log (`GET /apps/NAME/logs?process=web.1`), whose lines are
// `<ISO time> <source> | <text>`. Pure.
import { LISTENING_MARK } from './apps.ts';

export interface StartMarks {
  /** berth's "started (pid …)": its launcher returned (for a sandbox: the cgroup made, bwrap's namespaces up, the program let go). */
  readonly launchedMs: number | null;
  /** The app's own `listening-at` time: its server accepts connections. */
  readonly listeningMs: number | null;
  /** berth's "ready on port …": its probe found the port open and the routes were published. */
  readonly readyMs: number | null;
}

const LINE = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (\S+) \| (.*)$/;
const LISTENING = new RegExp(`^${LISTENING_MARK} (\\d+(?:\\.\\d+)?)$`);

/**
 * The first launch, listening and ready marks of `source` at or after
 * `askedAt` (epoch ms, fractional), as milliseconds after it. Log times are
 * whole milliseconds: a mark in the same millisecond as the request counts.
 */
export function startMarks(log: string, askedAt: number, source = 'web.1'): StartMarks {
  const floor = Math.floor(askedAt);
  let launchedMs: number | null = null;
  let listeningMs: number | null = null;
  let readyMs: number | null = null;
  for (const line of log.split('\n')) {
    const match = LINE.exec(line.trimEnd());
    if (match === null || match[2] !== source) continue;
    const at = Date.parse(match[1]!);
    if (!(at >= floor)) continue;
    const text = match[3]!;
    const listening = LISTENING.exec(text);
    if (listening !== null) {
      const own = Number(listening[1]);
      if (listeningMs === null && own >= floor) listeningMs = Math.max(0, own - askedAt);
    } else if (launchedMs === null && text.startsWith('started (pid ')) {
      launchedMs = Math.max(0, at - askedAt);
    } else if (readyMs === null && text.startsWith('ready on port ')) {
      readyMs = Math.max(0, at - askedAt);
    }
  }
  return { launchedMs, listeningMs, readyMs };
}
