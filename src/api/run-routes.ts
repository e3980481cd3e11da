import type { Duplex, Readable } from 'node:stream';
import { BerthError } from '../errors.ts';
import type { OneOffRun, RunRequest } from '../platform/one-off-runs.ts';
import type { Platform } from '../platform/platform.ts';
import * as names from '../platform/names.ts';
import { terminalSize, terminalType } from '../runner/index.ts';
import { parseSize } from '../units.ts';
import type { ApiServer } from './api-server.ts';
import { encodeFrame, FRAME, FrameDecoder, RUN_PROTOCOL, RUN_SIGNALS, type FrameType } from './run-frames.ts';

/** A command's words at most, and their bytes in all (far below the kernel's ARG_MAX). */
const MAX_ARGS = 4096;
const MAX_ARGV_BYTES = 256 * 1024;
/** After a run ends, how long its output still gets to reach the client before the exit frame. */
const OUTPUT_DRAIN_MS = 5_000;
/** The smallest `--size`, as for `berth scale TYPE=N:SIZE`. */
const MIN_RUN_MEMORY = 16 * 1024 * 1024;

/** What `POST /apps/NAME/runs` asks, checked: the body of docs/API.md. Pure. */
export function parseRunBody(body: unknown): Omit<RunRequest, 'actor'> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BerthError('BERTH_E_BAD_JSON', 'the request body must be a JSON object', { status: 400 });
  const { command, size, detach, terminal, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new BerthError('BERTH_E_USAGE', `unknown field "${unknown[0]}"`, { status: 400, hint: 'A run takes "command" (an array of strings), "size", "detach" and "terminal".' });
  if (!Array.isArray(command) || command.length === 0 || command.some((word) => typeof word !== 'string')) {
    throw new BerthError('BERTH_E_USAGE', 'a run needs a "command": a non-empty array of strings (argv; no shell runs it)', { status: 400, hint: 'berth run --app NAME -- COMMAND [ARGS...]' });
  }
  const argv = command as string[];
  if (argv[0] === '') throw new BerthError('BERTH_E_USAGE', "a run's command cannot be an empty word", { status: 400 });
  if (argv.length > MAX_ARGS || argv.reduce((sum, word) => sum + Buffer.byteLength(word) + 1, 0) > MAX_ARGV_BYTES) {
    throw new BerthError('BERTH_E_USAGE', `a run's command is limited to ${MAX_ARGS} words and ${MAX_ARGV_BYTES / 1024} KiB`, { status: 400, hint: 'Put a long script in a file of the app and run that.' });
  }
  if (argv.some((word) => word.includes('\0'))) throw new BerthError('BERTH_E_USAGE', "a run's command cannot hold a NUL byte", { status: 400 });
  let memoryBytes: number | null = null;
  if (size !== undefined && size !== null) {
    if (typeof size !== 'string' && typeof size !== 'number') throw new BerthError('BERTH_E_USAGE', '"size" is a memory size such as "1g"', { status: 400 });
    memoryBytes = parseSize(size);
    if (memoryBytes < MIN_RUN_MEMORY) throw new BerthError('BERTH_E_USAGE', 'a run\'s memory limit ("size") is at least 16m', { status: 400, hint: 'e.g. --size 1g' });
  }
  if (detach !== undefined && typeof detach !== 'boolean') throw new BerthError('BERTH_E_USAGE', '"detach" is true or false', { status: 400 });
  let wanted: RunRequest['terminal'] = null;
  if (terminal !== undefined && terminal !== null && terminal !== false) {
    if (typeof terminal !== 'object' || Array.isArray(terminal)) throw new BerthError('BERTH_E_USAGE', '"terminal" is {"rows", "cols", "term"} or null', { status: 400 });
    const t = terminal as Record<string, unknown>;
    wanted = { size: terminalSize(t.rows, t.cols), type: terminalType(t.term) };
  }
  if (detach === true && wanted !== null) throw new BerthError('BERTH_E_USAGE', 'a detached run has no terminal', { status: 400, hint: 'Leave out "terminal" (berth run --detach never sends one).' });
  return { argv, memoryBytes, detach: detach === true, terminal: wanted };
}

/**
 * One-off runs (docs/API.md): `POST /apps/NAME/runs` starts one — detached
 * (201, its output in the app's log), or attached over the same request
 * upgraded to `berth-run` (frames: run-frames.ts); `GET` lists the runs
 * going, `DELETE /apps/NAME/runs/run.N` stops one.
 */
export function registerRunRoutes(api: ApiServer, platform: Platform): void {
  const appOf = (params: Readonly<Record<string, string>>) => platform.store.getApp(names.appName(params.app ?? '')).name;
  api.router
    .add('POST', '/apps/:app/runs', async (req) => {
      const app = appOf(req.params);
      const asked = parseRunBody(await req.json());
      if (!asked.detach && req.upgrade !== RUN_PROTOCOL) {
        throw new BerthError('BERTH_E_USAGE', `an attached run streams its input and output: ask with "Upgrade: ${RUN_PROTOCOL}", or send "detach": true`, { status: 426, hint: 'berth run does this; with curl, start it detached and read berth logs.' });
      }
      const run = await platform.startRun(app, { ...asked, actor: req.actor });
      if (asked.detach) return { status: 201, body: { run: { name: run.name, detached: true } } };
      return { upgrade: (socket) => attach(run, socket) };
    })
    .add('GET', '/apps/:app/runs', async (req) => {
      const runs = platform.runs(appOf(req.params));
      return { body: { runs: runs.map((run) => ({ name: run.name, command: run.command, actor: run.actor, release: run.release, detached: run.detached, startedAt: run.startedAt, pid: run.pid ?? null })) } };
    })
    .add('DELETE', '/apps/:app/runs/:name', async (req) => {
      const app = appOf(req.params);
      const name = req.params.name ?? '';
      if (!/^run\.[1-9][0-9]{0,9}$/.test(name)) throw new BerthError('BERTH_E_NAME', `"${name.slice(0, 40)}" is not a run's name`, { status: 400, hint: 'A run is named run.N, as berth ps lists it.' });
      const outcome = await platform.stopRun(app, name, req.actor);
      return { body: { stopped: name, exit: outcome } };
    });
}

/**
 * Joins an attached run to its client's connection: stdin and signals in,
 * stdout and stderr out (each paced by the other side), the exit last. The
 * connection dropping ends the run (abandon: SIGHUP, then SIGKILL).
 */
export async function attach(run: OneOffRun, socket: Duplex): Promise<void> {
  const send = (type: FrameType, payload: Buffer | string): boolean => (socket.destroyed || !socket.writable ? true : socket.write(encodeFrame(type, payload)));
  let finished = false;
  const dropped = () => {
    if (!finished) run.abandon();
  };
  // The API's connections are half-open capable: a client that went away may show only as 'end'. The CLI never half-closes.
  socket.once('end', dropped);
  socket.once('close', dropped);
  send(FRAME.started, JSON.stringify({ name: run.name }));
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    let frames;
    try {
      frames = decoder.push(chunk);
    } catch {
      socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (frame.type === FRAME.stdin) {
        if (run.stdin !== null && !run.stdin.destroyed && !run.stdin.writableEnded && !run.stdin.write(frame.payload)) {
          socket.pause();
          run.stdin.once('drain', () => socket.resume());
        }
      } else if (frame.type === FRAME.stdinEnd) {
        run.stdin?.end();
      } else if (frame.type === FRAME.signal) {
        const name = frame.payload.toString('latin1');
        if ((RUN_SIGNALS as readonly string[]).includes(name)) run.signal(`SIG${name}` as NodeJS.Signals);
      }
      // Anything else: a newer client's frame this server does not know; ignored.
    }
  });
  socket.resume();
  const relay = (stream: Readable | null, type: FrameType) => {
    stream?.on('data', (chunk: Buffer) => {
      if (!send(type, chunk)) {
        stream.pause();
        socket.once('drain', () => stream.resume());
      }
    });
  };
  relay(run.stdout, FRAME.stdout);
  relay(run.stderr, FRAME.stderr);
  const outcome = await run.done;
  finished = true;
  // What the command wrote is sent before its exit (bounded: a pipe a stray process holds open must not hold the answer).
  await Promise.race([Promise.all([ended(run.stdout), ended(run.stderr)]), new Promise((resolve) => setTimeout(resolve, OUTPUT_DRAIN_MS).unref())]);
  send(FRAME.exit, JSON.stringify(outcome));
  socket.end();
}

function ended(stream: Readable | null): Promise<void> {
  if (stream === null || stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}
