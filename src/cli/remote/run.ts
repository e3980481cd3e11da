import { constants as osConstants } from 'node:os';
import type { Duplex } from 'node:stream';
import type { Command } from 'commander';
import { z } from 'zod';
import { encodeFrame, exitStatusOf, FRAME, FrameDecoder, RUN_PROTOCOL } from '../../api/run-frames.ts';
import { BerthError } from '../../errors.ts';
import { appName } from '../../platform/index.ts';
import { ExitStatus } from '../exit-status.ts';
import { apiPath, remoteError } from './client.ts';
import type { RemoteContext } from './context.ts';
import { ErrorBody } from './schemas.ts';

const StartedRun = z.object({ run: z.object({ name: z.string(), detached: z.boolean() }) });
const StoppedRun = z.object({ stopped: z.string(), exit: z.object({ code: z.number().nullable(), signal: z.string().nullable() }).passthrough() });
const StartedFrame = z.object({ name: z.string() });
const ExitFrame = z.object({ code: z.number().nullable(), signal: z.string().nullable(), outOfMemory: z.boolean().optional() });

/** The signals the CLI passes on to an attached run without a terminal (with one, Ctrl-C is a byte the remote terminal turns into SIGINT). */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

function signalNumber(name: string): number | undefined {
  return (osConstants.signals as Record<string, number>)[name];
}

/** `berth run [--size SIZE] [--detach] [--no-tty] --app NAME -- COMMAND [ARGS...]`, `berth stop run.N --app NAME`. */
export function registerRun(cli: Command, ctx: RemoteContext): void {
  cli
    .command('run')
    .description("run a one-off command in an app's current release (its build, config, add-ons, user and sandbox), e.g. berth run --app shop -- python manage.py migrate; exits with the command's status")
    .argument('<command...>', 'the command and its arguments, after -- (no shell runs them: write sh -c \'...\' for one)')
    .requiredOption('--app <name>', 'the app')
    .option('--size <size>', "this run's memory limit (512m, 1g; default: the app's)")
    .option('--detach', "start it and return at once; its output goes to the app's log as run.N")
    .option('--no-tty', 'no pseudo-terminal, even from a terminal')
    .action(async (command: string[], opts: { app: string; size?: string; detach?: boolean; tty: boolean }) => {
      const app = appName(opts.app);
      const client = ctx.client();
      const path = apiPath('apps', app, 'runs');
      if (opts.detach) {
        const { value } = await client.call('POST', path, StartedRun, { command, size: opts.size ?? null, detach: true });
        ctx.io.out(`${value.run.name} started in ${app}, detached: its output goes to the app's log (berth logs --process ${value.run.name} --app ${app})\n`);
        return;
      }
      const terminal = opts.tty && process.stdin.isTTY === true && process.stdout.isTTY === true;
      const body = {
        command,
        size: opts.size ?? null,
        terminal: terminal ? { rows: process.stdout.rows ?? null, cols: process.stdout.columns ?? null, term: ctx.env.TERM ?? null } : null,
      };
      const { socket, head } = await client.upgrade('POST', path, RUN_PROTOCOL, body);
      const status = await attached(socket, head, terminal, client.server);
      if (status !== 0) throw new ExitStatus(status);
    });

  cli
    .command('stop')
    .description('stop a one-off run (SIGTERM, then SIGKILL after the grace period), e.g. berth stop run.3 --app shop')
    .argument('<run>', 'the run, as berth ps lists it (run.N)')
    .requiredOption('--app <name>', 'the app')
    .action(async (run: string, opts: { app: string }) => {
      const app = appName(opts.app);
      const { value } = await ctx.client().call('DELETE', apiPath('apps', app, 'runs', run), StoppedRun);
      const how = value.exit.signal !== null ? `ended by ${value.exit.signal}` : `exited with code ${value.exit.code}`;
      ctx.io.out(`stopped ${value.stopped} of ${app}: ${how}\n`);
    });
}

/**
 * Joins this terminal (or these pipes) to an attached run until it ends:
 * standard input in, output out as raw bytes (a terminal session's escape
 * sequences are the point, as with ssh), signals passed on. Resolves with
 * the exit status to exit with.
 */
function attached(socket: Duplex, head: Buffer, terminal: boolean, server: string): Promise<number> {
  const stdin = process.stdin;
  const send = (type: number, payload: Buffer | string = Buffer.alloc(0)) => {
    if (!socket.destroyed) socket.write(encodeFrame(type as never, payload));
  };
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    const onStdin = (chunk: Buffer) => send(FRAME.stdin, chunk);
    const onStdinEnd = () => send(FRAME.stdinEnd);
    const forward = new Map<NodeJS.Signals, () => void>();
    const cleanup = () => {
      settled = true;
      for (const [signal, handler] of forward) process.off(signal, handler);
      stdin.off('data', onStdin);
      stdin.off('end', onStdinEnd);
      if (terminal && stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      // The run is over: standard input no longer keeps the CLI alive.
      if (!terminal) stdin.destroy();
      socket.destroy();
    };
    const fail = (err: Error) => {
      if (settled) return;
      cleanup();
      reject(err);
    };
    const decoder = new FrameDecoder();
    const onData = (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        return fail(new BerthError('BERTH_E_BAD_RESPONSE', `the server at ${server} sent a broken run stream: ${(err as Error).message}`));
      }
      for (const frame of frames) {
        if (settled) return;
        if (frame.type === FRAME.stdout || frame.type === FRAME.stderr) {
          const out = frame.type === FRAME.stdout ? process.stdout : process.stderr;
          if (!out.write(frame.payload)) {
            socket.pause();
            out.once('drain', () => socket.resume());
          }
        } else if (frame.type === FRAME.started) {
          const started = StartedFrame.safeParse(parseJson(frame.payload));
          if (started.success && terminal) process.stderr.write(`Running on ${started.data.name}\r\n`);
        } else if (frame.type === FRAME.exit) {
          const exit = ExitFrame.safeParse(parseJson(frame.payload));
          if (!exit.success) return fail(new BerthError('BERTH_E_BAD_RESPONSE', `the server at ${server} ended the run with an exit the CLI does not understand`));
          if (exit.data.outOfMemory) process.stderr.write(`berth: the command ran out of memory (its limit; --size raises it)\n`);
          cleanup();
          return resolve(exitStatusOf(exit.data, signalNumber));
        } else if (frame.type === FRAME.error) {
          const error = ErrorBody.safeParse(parseJson(frame.payload));
          return fail(error.success ? remoteError(error.data, 500) : new BerthError('BERTH_E_BAD_RESPONSE', `the server at ${server} ended the run with an error the CLI does not understand`));
        }
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.once('close', () =>
      fail(new BerthError('BERTH_E_CONNECTION_LOST', `the connection to the berth server at ${server} ended before the command did`, { hint: 'The server may be restarting; the command was ended with it (a dropped connection ends a run that is not --detach).' })),
    );
    if (head.length > 0) onData(head);
    if (terminal) {
      // Every key goes to the remote terminal as typed (Ctrl-C included, which becomes its SIGINT there).
      stdin.setRawMode(true);
    } else {
      for (const signal of FORWARDED) {
        const handler = () => send(FRAME.signal, signal.slice(3));
        forward.set(signal, handler);
        process.on(signal, handler);
      }
    }
    // SIGTERM and SIGHUP to this CLI (its terminal closed, a kill) reach the run in either mode.
    if (terminal) {
      for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
        const handler = () => send(FRAME.signal, signal.slice(3));
        forward.set(signal, handler);
        process.on(signal, handler);
      }
    }
    stdin.on('data', onStdin);
    stdin.once('end', onStdinEnd);
    stdin.resume();
  });
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}
