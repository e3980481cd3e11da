// berth's pre-receive hook, as the files berth writes into each repository's
// hooks folder. The hook is a small, dependency-free ES module run by the
// daemon's own node binary; it does only what must happen inside the hook —
// read the ref updates, produce the pushed tree with `git archive` (during
// pre-receive the new objects sit in a quarantine directory that only the
// hook's environment can see) — and leaves every decision to the daemon,
// reached over its Unix socket with the one-time secret the daemon put into
// receive-pack's environment. The protocol (one JSON object per line):
//
//   hook → daemon   {"push": "ID.SECRET", "updates": "OLD NEW REF\n…"}
//   daemon → hook   {"line": "…"}               print it (git shows "remote: …")
//                   {"send": "REV"}             stream `git archive REV` (tar), then half-close
//                   {"done": true, "ok": bool, "message": "…"}  the verdict: exit 0 or 1

/** The file name of the hook program beside `pre-receive`. */
export const HOOK_PROGRAM = 'berth-pre-receive.mjs';

/** The environment variables receive-pack passes to the hook. */
export const HOOK_SOCKET_ENV = 'BERTH_HOOK_SOCKET';
export const HOOK_PUSH_ENV = 'BERTH_PUSH';

/**
 * `hooks/pre-receive`: a POSIX sh wrapper that runs the hook program with
 * `node`. Both paths are single-quoted; a path holding a quote is refused
 * rather than escaped.
 */
export function preReceiveWrapper(nodePath: string, programPath: string): string {
  for (const path of [nodePath, programPath]) {
    if (!path.startsWith('/') || /['\n\0]/.test(path)) throw new Error(`cannot use ${JSON.stringify(path)} in a hook: it must be absolute and hold no quote or newline`);
  }
  return `#!/bin/sh\n# Installed by berth; rewritten whenever berth opens this repository.\nexec '${nodePath}' '${programPath}'\n`;
}

/** The hook program itself (plain JavaScript: it runs without berth's sources or dependencies). */
export const HOOK_PROGRAM_SOURCE = `// Installed by berth: hands this push to the berth daemon (see src/git/hook-script.ts).
import { spawn } from 'node:child_process';
import { connect } from 'node:net';

// Anything but the daemon's "ok" refuses the push, however this program ends.
process.exitCode = 1;
const say = (text) => process.stdout.write(text + '\\n');
const socketPath = process.env.${HOOK_SOCKET_ENV};
const push = process.env.${HOOK_PUSH_ENV};
if (!socketPath || !push) {
  say('berth: pushes to this repository go through the berth daemon (git push over its SSH or HTTP address)');
  process.exit(1);
}
// git archive needs the quarantine variables git set, but not berth's secret.
const env = { ...process.env };
delete env.${HOOK_PUSH_ENV};
delete env.${HOOK_SOCKET_ENV};

let updates = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) updates += chunk;

let verdict = null;
let archiving = false;
const socket = connect({ path: socketPath, allowHalfOpen: true });
socket.setEncoding('utf8');
socket.on('connect', () => socket.write(JSON.stringify({ push, updates }) + '\\n'));
socket.on('error', (err) => {
  if (verdict === null) say('berth: lost the connection to the berth daemon (' + (err.code || err.message) + '); the push is refused');
  process.exit(1);
});
let buffer = '';
socket.on('data', (chunk) => {
  buffer += chunk;
  for (let newline = buffer.indexOf('\\n'); newline !== -1; newline = buffer.indexOf('\\n')) {
    const text = buffer.slice(0, newline);
    buffer = buffer.slice(newline + 1);
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      continue;
    }
    if (typeof message.line === 'string') say(message.line);
    else if (typeof message.send === 'string' && !archiving && /^[0-9a-f]{40,64}$/.test(message.send)) {
      archiving = true;
      const archive = spawn('git', ['archive', '--format=tar', message.send], { stdio: ['ignore', 'pipe', 'inherit'], env });
      archive.stdout.pipe(socket);
      archive.on('error', () => socket.end());
    } else if (message.done === true) {
      verdict = message.ok === true ? 0 : 1;
      if (typeof message.message === 'string' && message.message !== '') say(message.message);
    }
  }
});
// The daemon ends the conversation after its verdict.
const end = () => {
  if (verdict === null) say('berth: the berth daemon ended the push without a verdict; the push is refused');
  process.exit(verdict ?? 1);
};
socket.on('end', end);
socket.on('close', end);
`;
