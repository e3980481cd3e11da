import { isAbsolute, resolve } from 'node:path';
import { BerthError } from '../../errors.ts';

// The systemd unit `berth server install` writes, as text, and the server
// flags it carries: pure, so every quoting rule is unit-tested and
// `systemd-analyze verify` checks the result.
//
// How systemd reads ExecStart= (systemd.service(5), "Command lines"): words
// split at whitespace; a word in double quotes keeps its spaces, with C
// escapes inside (\" \\); `$NAME` and `${NAME}` are replaced by environment
// variables anywhere, and `$$` is a literal "$"; `%x` specifiers are
// expanded anywhere, and `%%` is a literal "%". So each argument goes in
// double quotes with \ and " escaped, $ doubled and % doubled. A line break
// cannot be written at all (a newline ends the setting, a trailing
// backslash continues it), so a value with one, or any other control
// character, is refused.

/** The first line of every unit berth writes; uninstall removes only a file that starts with it. */
export const UNIT_MARKER = '# Written by `berth server install`; `berth server uninstall` stops, disables and removes it.';

/** Where install puts the unit, and the unit's name. */
export const UNIT_PATH = '/etc/systemd/system/berth.service';
export const UNIT_NAME = 'berth.service';

/** The service's optional environment file, for what must not be in a world-readable unit (admin URLs with passwords). */
export const ENVIRONMENT_FILE = '/etc/default/berth';

/** The state folder of a service, which runs as root, unless --state says otherwise. */
export const SERVICE_STATE_DIR = '/var/lib/berth';

/** systemd's own PATH for services; berth's Node's folder goes first when it is elsewhere (nvm, /opt). */
const SYSTEMD_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function refuseControls(value: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new BerthError('BERTH_E_USAGE', `${what} holds a line break or another control character, which a systemd unit cannot carry`, {
      hint: 'Give the value without control characters (a path or address never needs one).',
    });
  }
}

/** One word of an ExecStart= line that systemd reads back as exactly `value`. */
/** The --state folder an ExecStart= line of ours names (serverFlags puts it first); null when it names none. */
export function unitStateDir(unit: string): string | null {
  const line = unit.split('\n').find((l) => l.startsWith('ExecStart='));
  const match = line === undefined ? null : /"--state" "((?:[^"\\]|\\.)*)"/.exec(line);
  return match ? match[1]!.replace(/\\(.)/g, '$1').replace(/\$\$/g, '$').replace(/%%/g, '%') : null;
}

export function execArgument(value: string): string {
  refuseControls(value, `the argument ${JSON.stringify(value)}`);
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\$/g, '$$$$').replace(/%/g, '%%')}"`;
}

/** An Environment= assignment: the same quoting, but systemd expands no variables there, so "$" stays single. */
export function environmentAssignment(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BerthError('BERTH_E_USAGE', `${JSON.stringify(name)} is not an environment variable name`);
  refuseControls(value, `the value of ${name}`);
  return `"${`${name}=${value}`.replace(/[\\"]/g, (c) => `\\${c}`).replace(/%/g, '%%')}"`;
}

export interface UnitSpec {
  /** The absolute path of the Node.js that runs berth (process.execPath). */
  readonly node: string;
  /** The absolute path of berth's entry point (bin/berth.js). */
  readonly entry: string;
  /** What follows `berth server`: the flags, normalised by serverFlags(). */
  readonly flags: readonly string[];
}

/** The unit's text. */
export function serviceUnit(spec: UnitSpec): string {
  for (const [what, path] of [['Node.js', spec.node], ["berth's entry point", spec.entry]] as const) {
    if (!isAbsolute(path)) throw new BerthError('BERTH_E_USAGE', `${what} is not at an absolute path (${path})`);
  }
  // systemd takes no quote or backslash in the program's own path, however
  // quoted ("Executable name contains special characters"), and does not
  // read "$" there as "$" (version 252 expands no variables in it; whether
  // a later one does is not worth finding out at boot).
  if (/["'\\$]/.test(spec.node)) {
    throw new BerthError('BERTH_E_USAGE', `systemd cannot start a program whose path holds a quote, a backslash or a "$": ${spec.node}`, {
      hint: 'Install Node.js 24 in a folder without such characters, and run berth server install with it.',
    });
  }
  const nodeDir = spec.node.slice(0, spec.node.lastIndexOf('/')) || '/';
  const path = [...(SYSTEMD_PATH.includes(nodeDir) ? [] : [nodeDir]), ...SYSTEMD_PATH].join(':');
  const command = [spec.node, spec.entry, 'server', ...spec.flags].map(execArgument).join(' ');
  return `${UNIT_MARKER}
# Settings that are secrets (BERTH_POSTGRES_ADMIN_URL, BERTH_REDIS_ADMIN_URL) go in
# ${ENVIRONMENT_FILE} (mode 0600), never here: unit files are readable by every user.
[Unit]
Description=berth: the edge, the control API and the apps
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart=${command}
Environment=${environmentAssignment('PATH', path)}
EnvironmentFile=-${ENVIRONMENT_FILE}
Restart=on-failure
RestartSec=5s
# SIGTERM to berth alone, and nothing else of the group is killed: a stop or a
# restart stops the control plane, while the apps keep running for the next
# start to take over (berth server stop --apps, then systemctl stop, stops them too).
KillMode=process
TimeoutStopSec=90s
# The apps' sandboxes get control groups below berth's own.
Delegate=yes
TasksMax=infinity
LimitNOFILE=1048576
# No ProtectSystem=, PrivateTmp= or NoNewPrivileges=: berth runs as root and makes
# users, mounts, namespaces and control groups for its apps' sandboxes.

[Install]
WantedBy=multi-user.target
`;
}

/** One of `berth server`'s options, as its command defines it. */
export interface ServerOption {
  /** `--http`, `--no-acme`. */
  readonly long: string;
  readonly takesValue: boolean;
}

/** Options whose value is a path: made absolute, since a service runs in "/". */
const PATH_OPTIONS = new Set(['--state', '--build-env-file', '--acme-ca-bundle', '--tls-cert', '--tls-key', '--backup-dir', '--backup-copy-dir']);
/** Options whose value may carry a password: never in a unit file. */
const SECRET_URL_OPTIONS: Record<string, string> = { '--postgres-admin-url': 'BERTH_POSTGRES_ADMIN_URL', '--redis-admin-url': 'BERTH_REDIS_ADMIN_URL' };

/**
 * The flags of `berth server install`, checked against `berth server`'s own
 * options (so a misspelt flag is refused now, not at the next boot) and
 * normalised for a service: `--flag=value` split, paths made absolute
 * against `cwd`, --state first (SERVICE_STATE_DIR unless given). An admin URL
 * with a password is refused: the unit is readable by every user.
 */
export function serverFlags(args: readonly string[], options: readonly ServerOption[], cwd: string): string[] {
  const byName = new Map(options.map((option) => [option.long, option]));
  const hint = 'Give the flags of `berth server` (see berth server --help), e.g. berth server install --state /var/lib/berth --https :443.';
  let state = SERVICE_STATE_DIR;
  const flags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    refuseControls(arg, `the argument ${JSON.stringify(arg)}`);
    if (!arg.startsWith('--')) throw new BerthError('BERTH_E_USAGE', `"${arg}" is not a flag of berth server`, { hint });
    const equals = arg.indexOf('=');
    const name = equals === -1 ? arg : arg.slice(0, equals);
    const option = byName.get(name);
    if (option === undefined) throw new BerthError('BERTH_E_USAGE', `berth server has no flag ${name}`, { hint });
    if (!option.takesValue) {
      if (equals !== -1) throw new BerthError('BERTH_E_USAGE', `${name} takes no value`, { hint });
      flags.push(name);
      continue;
    }
    let value: string;
    if (equals !== -1) value = arg.slice(equals + 1);
    else {
      const next = args[i + 1];
      if (next === undefined) throw new BerthError('BERTH_E_USAGE', `${name} needs a value`, { hint });
      value = next;
      i++;
    }
    refuseControls(value, `the value of ${name}`);
    if (value === '') throw new BerthError('BERTH_E_USAGE', `${name} needs a value`, { hint });
    const secretEnv = SECRET_URL_OPTIONS[name];
    if (secretEnv !== undefined && hasPassword(value)) {
      throw new BerthError('BERTH_E_USAGE', `${name} carries a password, which a unit file would show to every user of this machine`, {
        hint: `Leave ${name} out and put ${secretEnv}=URL in ${ENVIRONMENT_FILE} (mode 0600); the service reads it.`,
      });
    }
    if (PATH_OPTIONS.has(name)) value = resolve(cwd, value);
    if (name === '--state') state = value;
    else flags.push(name, value);
  }
  return ['--state', state, ...flags];
}

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    // Not a URL: berth server refuses it when it starts; nothing secret to keep out of the unit.
    return false;
  }
}
