import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  apiToken,
  credentialsDir,
  credentialsPath,
  readSavedCredentials,
  resolveCredentials,
  saveCredentials,
  serverUrl,
} from '../../../src/cli/remote/credentials.ts';
import { GOOD_TOKEN, startFakeDaemon } from './fake-daemon.ts';
import { berth, tempDir, testEnv } from './run-berth.ts';

const mode = (path: string) => statSync(path).mode & 0o777;

test('the credentials live in $XDG_CONFIG_HOME/berth, or ~/.config/berth when it is unset or relative', () => {
  assert.equal(credentialsPath({ XDG_CONFIG_HOME: '/x/config', HOME: '/home/a' }), '/x/config/berth/credentials.json');
  assert.equal(credentialsDir({ HOME: '/home/a' }), '/home/a/.config/berth');
  assert.equal(credentialsDir({ XDG_CONFIG_HOME: 'relative/path', HOME: '/home/a' }), '/home/a/.config/berth');
  assert.equal(credentialsDir({ XDG_CONFIG_HOME: '', HOME: '/home/a' }), '/home/a/.config/berth');
});

test('saving makes the folder 0700 and the file 0600, even where the folder existed with a wider mode', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: join(home, 'config'), HOME: home };
  mkdirSync(join(home, 'config', 'berth'), { recursive: true, mode: 0o755 });
  const path = saveCredentials(env, { server: 'http://127.0.0.1:7070', token: 'secret-1' });
  assert.equal(path, join(home, 'config', 'berth', 'credentials.json'));
  assert.equal(mode(join(home, 'config', 'berth')), 0o700);
  assert.equal(mode(path), 0o600);
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { server: 'http://127.0.0.1:7070', token: 'secret-1' });
  assert.deepEqual(readSavedCredentials(path), { server: 'http://127.0.0.1:7070', token: 'secret-1' });
});

test('saving replaces the file by rename: the old file is never rewritten in place, and no temp file is left', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: home, HOME: home };
  const path = saveCredentials(env, { server: 'http://a.example', token: 'old-token' });
  // A second name for the old file: writing in place would change what it shows.
  const witness = join(home, 'witness.json');
  linkSync(path, witness);
  const before = statSync(path).ino;
  saveCredentials(env, { server: 'http://b.example', token: 'new-token' });
  assert.notEqual(statSync(path).ino, before);
  assert.match(readFileSync(witness, 'utf8'), /old-token/);
  assert.match(readFileSync(path, 'utf8'), /new-token/);
  assert.deepEqual(readdirSync(join(home, 'berth')), ['credentials.json']);
  assert.equal(mode(path), 0o600);
});

test('a file that cannot be saved is BERTH_E_CREDENTIALS', async (t) => {
  const home = await tempDir(t);
  writeFileSync(join(home, 'berth'), 'a file where the folder should be');
  assert.throws(() => saveCredentials({ XDG_CONFIG_HOME: home }, { server: 'http://a', token: 't' }), (err: Error & { code?: string }) => err.code === 'BERTH_E_CREDENTIALS');
});

test('no file is no credentials; a damaged one is BERTH_E_CREDENTIALS and never shows its content', async (t) => {
  const home = await tempDir(t);
  const path = join(home, 'credentials.json');
  assert.equal(readSavedCredentials(path), null);
  for (const text of ['{"server": "http://a", "token": "secret-2"', '[]', '{"server": "ftp://a", "token": "secret-2"}', '{"server": "http://a"}']) {
    writeFileSync(path, text);
    assert.throws(
      () => readSavedCredentials(path),
      (err: Error & { code?: string; hint?: string }) => err.code === 'BERTH_E_CREDENTIALS' && !err.message.includes('secret-2') && /berth login/.test(err.hint ?? ''),
    );
  }
});

test('BERTH_SERVER and BERTH_TOKEN override the saved values, each on its own', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: home, HOME: home };
  saveCredentials(env, { server: 'http://saved.example:7070', token: 'saved-token' });
  assert.deepEqual(resolveCredentials(env), { server: 'http://saved.example:7070', token: 'saved-token' });
  assert.deepEqual(resolveCredentials({ ...env, BERTH_SERVER: 'http://env.example/' }), { server: 'http://env.example', token: 'saved-token' });
  assert.deepEqual(resolveCredentials({ ...env, BERTH_TOKEN: 'env-token' }), { server: 'http://saved.example:7070', token: 'env-token' });
  assert.deepEqual(resolveCredentials({ ...env, BERTH_SERVER: '', BERTH_TOKEN: ' ' }), { server: 'http://saved.example:7070', token: 'saved-token' });
  // Both set: the file is not even read, so a damaged one does not matter.
  writeFileSync(credentialsPath(env), 'not json');
  assert.deepEqual(resolveCredentials({ ...env, BERTH_SERVER: 'https://b.example', BERTH_TOKEN: 'env-token' }), { server: 'https://b.example', token: 'env-token' });
});

test('nothing saved and nothing in the environment is BERTH_E_NOT_LOGGED_IN, telling to run berth login', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: home, HOME: home };
  for (const partial of [{}, { BERTH_SERVER: 'http://a.example' }, { BERTH_TOKEN: 'only-token' }]) {
    assert.throws(
      () => resolveCredentials({ ...env, ...partial }),
      (err: Error & { code?: string; hint?: string }) => err.code === 'BERTH_E_NOT_LOGGED_IN' && /berth login --server URL --token TOKEN/.test(err.hint ?? '') && !err.message.includes('only-token'),
    );
  }
});

test('server URLs: http or https, normalised, a path prefix kept; anything else refused', () => {
  assert.equal(serverUrl('http://127.0.0.1:7070'), 'http://127.0.0.1:7070');
  assert.equal(serverUrl(' https://Berth.Example.com/ '), 'https://berth.example.com');
  assert.equal(serverUrl('https://example.com/berth/api/'), 'https://example.com/berth/api');
  assert.equal(serverUrl('http://[::1]:7070'), 'http://[::1]:7070');
  for (const bad of ['127.0.0.1:7070', 'ftp://example.com', 'http://user:pw@example.com', 'http://example.com/?x=1', 'http://example.com/#x', '', 'http://']) {
    assert.throws(() => serverUrl(bad), (err: Error & { code?: string }) => err.code === 'BERTH_E_USAGE' && !err.message.includes('pw@'), bad);
  }
});

test('tokens are trimmed; empty ones or ones with spaces are refused without being echoed', () => {
  assert.equal(apiToken('  berth_abc\n'), 'berth_abc');
  for (const bad of ['', '   ', 'two words', 'tab\there', 'é']) {
    assert.throws(() => apiToken(bad), (err: Error & { code?: string }) => err.code === 'BERTH_E_USAGE' && !(bad.trim() !== '' && err.message.includes(bad)));
  }
});

test('berth login checks the token against the server, then saves it 0600 without ever printing it', async (t) => {
  const daemon = await startFakeDaemon(t);
  const env = await testEnv(t);
  const run = await berth(['login', '--server', `${daemon.url}/`, '--token', GOOD_TOKEN], { env });
  assert.equal(run.code, 0, run.err);
  const path = join(env.XDG_CONFIG_HOME!, 'berth', 'credentials.json');
  assert.match(run.out, new RegExp(`logged in to ${daemon.url}; credentials saved in ${path}`));
  assert.doesNotMatch(run.out + run.err, new RegExp(GOOD_TOKEN));
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { server: daemon.url, token: GOOD_TOKEN });
  assert.equal(mode(path), 0o600);
  assert.equal(daemon.requests.at(-1)?.headers.authorization, `Bearer ${GOOD_TOKEN}`);
  // The saved credentials are what the next command uses.
  const list = await berth(['apps', 'list'], { env });
  assert.equal(list.code, 0, list.err);
});

test('berth login with a token the server refuses saves nothing and says so', async (t) => {
  const daemon = await startFakeDaemon(t);
  const env = await testEnv(t);
  const run = await berth(['login', '--server', daemon.url, '--token', 'wrong-token'], { env });
  assert.equal(run.code, 1);
  assert.equal(run.out, '');
  assert.match(run.err, /^berth: the server at http:\/\/127\.0\.0\.1:\d+ did not accept the token; nothing was saved \[BERTH_E_UNAUTHORIZED\]\nhint: .+\n$/);
  assert.doesNotMatch(run.err, /wrong-token/);
  assert.equal(existsSync(join(env.XDG_CONFIG_HOME!, 'berth', 'credentials.json')), false);
});

test('berth login notes that BERTH_SERVER / BERTH_TOKEN in the environment override what it saves', async (t) => {
  const daemon = await startFakeDaemon(t);
  const env = { ...(await testEnv(t)), BERTH_TOKEN: 'something-else' };
  const run = await berth(['login', '--server', daemon.url, '--token', GOOD_TOKEN], { env });
  assert.equal(run.code, 0, run.err);
  assert.equal(run.err, 'note: BERTH_TOKEN is set in the environment and overrides the saved value for every command\n');
});

test('berth login needs a server, a token and a proper URL', async (t) => {
  const env = await testEnv(t);
  const missing = await berth(['login', '--server', 'http://127.0.0.1:1'], { env });
  assert.equal(missing.code, 1);
  assert.match(missing.err, /give the token with --token TOKEN or --token-stdin/);
  const noServer = await berth(['login', '--token', 'x'], { env });
  assert.equal(noServer.code, 2);
  assert.match(noServer.err, /required option '--server <url>' not specified/);
  const badUrl = await berth(['login', '--server', 'localhost:7070', '--token', 'x'], { env });
  assert.equal(badUrl.code, 1);
  assert.match(badUrl.err, /^berth: "localhost:7070" is not an http or https URL \[BERTH_E_USAGE\]\nhint: /);
});

test('a command with no credentials at all tells to run berth login', async (t) => {
  const env = await testEnv(t);
  const run = await berth(['apps', 'list'], { env });
  assert.equal(run.code, 1);
  assert.match(run.err, /^berth: not logged in: no berth server is known \[BERTH_E_NOT_LOGGED_IN\]\nhint: Run `berth login --server URL --token TOKEN`/);
});

test('berth login --token-stdin reads the token from standard input, so it is never in argv', async (t) => {
  const daemon = await startFakeDaemon(t);
  const env = await testEnv(t);
  const run = await berth(['login', '--server', daemon.url, '--token-stdin'], { env, readStdin: async () => `${GOOD_TOKEN}\n` });
  assert.equal(run.code, 0, run.err);
  assert.deepEqual(JSON.parse(readFileSync(join(env.XDG_CONFIG_HOME!, 'berth', 'credentials.json'), 'utf8')), { server: daemon.url, token: GOOD_TOKEN });
  for (const argv of [['login', '--server', daemon.url], ['login', '--server', daemon.url, '--token', GOOD_TOKEN, '--token-stdin']]) {
    const refused = await berth(argv, { env, readStdin: async () => GOOD_TOKEN });
    assert.equal(refused.code, 1);
    assert.match(refused.err, /give the token with --token TOKEN or --token-stdin \(exactly one\) \[BERTH_E_USAGE\]/);
  }
});
