import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../../errors.ts';
import { lockHolder, LOCK_FILE, writeFileAtomic } from '../../platform/index.ts';
import { serverFlags, serviceUnit, unitStateDir, UNIT_MARKER, UNIT_PATH, type ServerOption } from './unit.ts';
import { stopAppsMark } from '../server-stop.ts';

// `berth server install` and `uninstall`: the unit's file and systemctl.
// Everything they decide is in unit.ts; this file only reads and writes the
// unit and runs systemctl (argv, no shell). The machine's paths are options,
// so a test can point them at a temp folder and a recording systemctl.

export interface ServiceIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface ServiceMachine {
  /** Where the unit goes (its file name is the unit's name). Default /etc/systemd/system/berth.service. */
  readonly unitPath?: string;
  /** What exists only while systemd runs the machine (sd_booted(3)). Default /run/systemd/system. */
  readonly systemdMarker?: string;
  /** The systemctl program. Default: systemctl on PATH. */
  readonly systemctl?: string;
  /** The kernel's lock table, to find a daemon already on the state folder. Default /proc/locks. */
  readonly procLocks?: string;
}

export interface InstallOptions extends ServiceMachine {
  /** What followed `berth server install`. */
  readonly args: readonly string[];
  /** `berth server`'s options, from its command definition. */
  readonly serverOptions: readonly ServerOption[];
  /** --print: only print the unit. */
  readonly print: boolean;
  readonly cwd: string;
  readonly io: ServiceIo;
}

/** The entry point this berth was started from, as the unit must start it: bin/berth.js, three folders up from src/cli/service/ or dist/cli/service/. */
export function berthEntry(): string {
  return fileURLToPath(new URL('../../../bin/berth.js', import.meta.url));
}

const SYSTEMCTL_TIMEOUT_MS = 180_000; // a stop waits for the drain (TimeoutStopSec=90s) and more

function systemctl(machine: ServiceMachine, args: readonly string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(machine.systemctl ?? 'systemctl', args, { timeout: SYSTEMCTL_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}${error !== null && stdout + stderr === '' ? error.message : ''}`;
      resolve({ ok: error === null, output });
    });
  });
}

async function mustSystemctl(machine: ServiceMachine, io: ServiceIo, args: readonly string[], done: string): Promise<void> {
  const result = await systemctl(machine, args);
  if (result.output.trim() !== '') io.err(result.output.endsWith('\n') ? result.output : `${result.output}\n`);
  if (!result.ok) {
    throw new BerthError('BERTH_E_SERVICE', `systemctl ${args.join(' ')} failed${done === '' ? '' : ` (${done})`}`, {
      hint: `See what systemd says: systemctl status ${args.at(-1)} and journalctl -u ${args.at(-1)}.`,
    });
  }
}

function noSystemd(marker: string, printed: boolean): BerthError {
  return new BerthError('BERTH_E_NO_SYSTEMD', `systemd does not run this machine (there is no ${marker}), so nothing was ${printed ? 'installed; the unit is printed above' : 'changed'}`, {
    hint: printed
      ? 'On a machine with systemd, save the unit as /etc/systemd/system/berth.service and run systemctl daemon-reload && systemctl enable --now berth; elsewhere start berth server with what starts services there.'
      : 'Stop berth server with what started it.',
  });
}

function readUnit(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new BerthError('BERTH_E_SERVICE', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'Run it as root (sudo).' });
  }
}

function refuseForeign(path: string, text: string): void {
  if (!text.startsWith(UNIT_MARKER)) {
    throw new BerthError('BERTH_E_SERVICE', `${path} exists and was not written by berth server install; nothing was changed`, {
      hint: `Look at it, and move it away if it is no longer wanted (systemctl disable --now ${basename(path)}), then run the command again.`,
    });
  }
}

/** The pid holding the state folder's lock (a running berth server), if any. */
function stateHolder(stateDir: string, procLocks: string): number | null {
  const lock = join(stateDir, LOCK_FILE);
  if (!existsSync(lock)) return null;
  try {
    return lockHolder(readFileSync(procLocks, 'utf8'), statSync(lock).ino);
  } catch {
    return null;
  }
}

/**
 * Writes the unit for `berth server FLAGS` and enables and starts it (a
 * replaced unit is restarted, so new flags take effect). With --print, or
 * where systemd does not run the machine, prints the unit instead and
 * writes nothing.
 */
export async function installService(options: InstallOptions): Promise<void> {
  const flags = serverFlags(options.args, options.serverOptions, options.cwd);
  const unit = serviceUnit({ node: process.execPath, entry: berthEntry(), flags });
  const unitPath = options.unitPath ?? UNIT_PATH;
  const name = basename(unitPath);
  if (options.print) return options.io.out(unit);
  const marker = options.systemdMarker ?? '/run/systemd/system';
  if (!existsSync(marker)) {
    options.io.out(unit);
    throw noSystemd(marker, true);
  }
  const before = readUnit(unitPath);
  if (before !== null) refuseForeign(unitPath, before);
  // A berth server started by hand on the same state folder would make the service fail at every restart.
  const state = flags[1]!;
  const holder = stateHolder(state, options.procLocks ?? '/proc/locks');
  if (holder !== null) {
    const main = await systemctl(options, ['show', '--property=MainPID', '--value', name]);
    if (Number(main.output.trim()) !== holder) {
      throw new BerthError('BERTH_E_STATE_LOCKED', `a berth server (pid ${holder}) already runs on ${state}, outside the service; nothing was installed`, {
        hint: `Stop it first (SIGTERM drains it: kill ${holder}), then run berth server install again.`,
      });
    }
  }
  try {
    writeFileAtomic(unitPath, unit, 0o644);
  } catch (err) {
    throw new BerthError('BERTH_E_SERVICE', `cannot write ${unitPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      hint: 'Run it as root: sudo berth server install … (or --print the unit and install it yourself).',
      cause: err,
    });
  }
  await mustSystemctl(options, options.io, ['daemon-reload'], `${unitPath} is written`);
  await mustSystemctl(options, options.io, ['enable', '--now', name], `${unitPath} is written`);
  if (before !== null && before !== unit) await mustSystemctl(options, options.io, ['restart', name], 'the new unit is enabled');
  options.io.out(
    `installed ${unitPath}: berth server ${flags.join(' ')} runs now, starts at boot and restarts on failure\n` +
      `(systemctl status ${name.replace(/\.service$/, '')}; journalctl -u ${name.replace(/\.service$/, '')} -f; berth server uninstall removes it)\n`,
  );
}

/** Stops (drains), disables and removes the unit install wrote; berth's state folder stays. */
export async function uninstallService(options: ServiceMachine & { readonly io: ServiceIo }): Promise<void> {
  const unitPath = options.unitPath ?? UNIT_PATH;
  const name = basename(unitPath);
  const marker = options.systemdMarker ?? '/run/systemd/system';
  if (!existsSync(marker)) throw noSystemd(marker, false);
  const before = readUnit(unitPath);
  if (before === null) return options.io.out(`no berth service is installed (no ${unitPath}): nothing to do\n`);
  refuseForeign(unitPath, before);
  // The apps go with the service: its SIGTERM is a full stop this once (see server-stop.ts).
  const stateDir = unitStateDir(before);
  if (stateDir !== null && existsSync(join(stateDir, 'run'))) writeFileAtomic(stopAppsMark(stateDir), 'uninstall\n', 0o600);
  await mustSystemctl(options, options.io, ['disable', '--now', name], 'the unit is still installed');
  try {
    unlinkSync(unitPath);
  } catch (err) {
    throw new BerthError('BERTH_E_SERVICE', `cannot remove ${unitPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'Run it as root (sudo).', cause: err });
  }
  await mustSystemctl(options, options.io, ['daemon-reload'], `${unitPath} is removed`);
  options.io.out(`stopped, disabled and removed ${name}; berth's state folder stays as it was\n`);
}
