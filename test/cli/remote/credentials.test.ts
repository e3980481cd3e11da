import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiToken, credentialsDir, credentialsPath, readSavedServers, resolveCredentials, saveServers, serverUrl } from '../../../src/cli/remote/credentials.ts';
import { saveServer, type SavedServers } from '../../../src/cli/remote/saved-servers.ts';
import { GOOD_TOKEN, startFakeDaemon } from './fake-daemon.ts';
import { berth, tempDir, testEnv } from './run-berth.ts';

const mode = (path: string) => statSync(path).mode & 0o777;

/** What one `berth login` to `server` saves. */
const one = (server: string, token: string, name = 'a'): SavedServers => ({ current: server, servers: [{ name, server, token }] });
/** The file's JSON for one current server. */
const fileOf = (server: string, token: string, name: string) => ({ version: 2, current: server, servers: [{ name, server, token }] });

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
  const path = saveServers(env, one('http://127.0.0.1:7070', 'secret-1'));
  assert.equal(path, join(home, 'config', 'berth', 'credentials.json'));
  assert.equal(mode(join(home, 'config', 'berth')), 0o700);
  assert.equal(mode(path), 0o600);
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), fileOf('http://127.0.0.1:7070', 'secret-1', 'a'));
  assert.deepEqual(readSavedServers(path), one('http://127.0.0.1:7070', 'secret-1'));
});

test('saving replaces the file by rename: the old file is never rewritten in place, and no temp file is left', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: home, HOME: home };
  const path = saveServers(env, one('http://a.example', 'old-token'));
  // A second name for the old file: writing in place would change what it shows.
  const witness = join(home, 'witness.json');
  linkSync(path, witness);
  const before = statSync(path).ino;
  saveServers(env, one('http://b.example', 'new-token'));
  assert.notEqual(statSync(path).ino, before);
  assert.match(readFileSync(witness, 'utf8'), /old-token/);
  assert.match(readFileSync(path, 'utf8'), /new-token/);
  assert.deepEqual(readdirSync(join(home, 'berth')), ['credentials.json']);
  assert.equal(mode(path), 0o600);
});

test('a file that cannot be saved is BERTH_E_CREDENTIALS', async (t) => {
  const home = await tempDir(t);
  writeFileSync(join(home, 'berth'), 'a file where the folder should be');
  assert.throws(() => saveServers({ XDG_CONFIG_HOME: home }, one('http://a', 't')), (err: Error & { code?: string }) => err.code === 'BERTH_E_CREDENTIALS');
});

test('no file is no servers; a damaged one is BERTH_E_CREDENTIALS and never shows its content', async (t) => {
  const home = await tempDir(t);
  const path = join(home, 'credentials.json');
  assert.deepEqual(readSavedServers(path), { current: null, servers: [] });
  for (const text of [
    '{"server": "http://a", "token": "secret-2"',
    '[]',
    '{"server": "ftp://a", "token": "secret-2"}',
    '{"server": "http://a"}',
    '{"version": 3, "current": null, "servers": []}',
    '{"version": 2, "current": "http://b", "servers": [{"name": "a", "server": "http://a", "token": "secret-2"}]}',
    '{"version": 2, "current": null, "servers": [{"name": "a", "server": "http://a", "token": "secret-2"}, {"name": "a", "server": "http://b", "token": "secret-2"}]}',
    '{"version": 2, "current": null, "servers": [{"name": "bad name", "server": "http://a", "token": "secret-2"}]}',
  ]) {
    writeFileSync(path, text);
    assert.throws(
      () => readSavedServers(path),
      (err: Error & { code?: string; hint?: string }) => err.code === 'BERTH_E_CREDENTIALS' && !err.message.includes('secret-2') && /berth login/.test(err.hint ?? ''),
    );
  }
});

test('the single-server file of before reads as one current server, named after its host, and is rewritten in the new form at the next save', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: home, HOME: home };
  const path = credentialsPath(env);
  mkdirSync(join(home, 'berth'), { mode: 0o700 });
  writeFileSync(path, JSON.stringify({ server: 'http://old.example:7070', token: 'old-token' }), { mode: 0o600 });
  assert.deepEqual(readSavedServers(path), { current: 'http://old.example:7070', servers: [{ name: 'old.example:7070', server: 'http://old.example:7070', token: 'old-token' }] });
  assert.deepEqual(resolveCredentials(env), { server: 'http://old.example:7070', token: 'old-token' });
  saveServers(env, saveServer(readSavedServers(path), { server: 'https://new.example', token: 'new-token' }).saved);
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), {
    version: 2,
    current: 'https://new.example',
    servers: [
      { name: 'old.example:7070', server: 'http://old.example:7070', token: 'old-token' },
      { name: 'new.example', server: 'https://new.example', token: 'new-token' },
    ],
  });
});

test('the server: --server, else BERTH_SERVER, else the current one, each a saved name or URL; the token: BERTH_TOKEN, else the saved one', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: home, HOME: home };
  let saved = saveServer({ current: null, servers: [] }, { server: 'http://prod.example', token: 'prod-token', name: 'prod' }).saved;
  saved = saveServer(saved, { server: 'http://saved.example:7070', token: 'saved-token', name: 'dev' }).saved;
  saveServers(env, saved);
  assert.deepEqual(resolveCredentials(env), { server: 'http://saved.example:7070', token: 'saved-token' });
  assert.deepEqual(resolveCredentials(env, 'prod'), { server: 'http://prod.example', token: 'prod-token' });
  assert.deepEqual(resolveCredentials(env, 'http://PROD.example/'), { server: 'http://prod.example', token: 'prod-token' });
  assert.deepEqual(resolveCredentials({ ...env, BERTH_SERVER: 'prod' }), { server: 'http://prod.example', token: 'prod-token' });
  assert.deepEqual(resolveCredentials({ ...env, BERTH_SERVER: 'prod' }, 'dev'), { server: 'http://saved.example:7070', token: 'saved-token' }, '--server wins over BERTH_SERVER');
  assert.deepEqual(resolveCredentials({ ...env, BERTH_TOKEN: 'env-token' }), { server: 'http://saved.example:7070', token: 'env-token' });
  assert.deepEqual(resolveCredentials({ ...env, BERTH_TOKEN: 'env-token' }, 'prod'), { server: 'http://prod.example', token: 'env-token' });
  // A URL nothing was saved for never gets another server's token.
  assert.throws(
    () => resolveCredentials({ ...env, BERTH_SERVER: 'http://env.example/' }),
    (err: Error & { code?: string }) => err.code === 'BERTH_E_NOT_LOGGED_IN' && err.message === 'not logged in: no token is saved for http://env.example',
  );
  assert.throws(
    () => resolveCredentials(env, 'staging'),
    (err: Error & { code?: string; hint?: string }) => err.code === 'BERTH_E_NOT_LOGGED_IN' && err.message === 'not logged in: no saved server is named "staging"' && /prod, dev/.test(err.hint ?? '') && !/(prod|saved)-token/.test(`${err.message}${err.hint}`),
  );
});

test('several servers saved and none current: a command must say which', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: home, HOME: home };
  saveServers(env, {
    current: null,
    servers: [
      { name: 'prod', server: 'http://prod.example', token: 'prod-token' },
      { name: 'dev', server: 'http://dev.example', token: 'dev-token' },
    ],
  });
  assert.throws(
    () => resolveCredentials(env),
    (err: Error & { code?: string; hint?: string }) => err.code === 'BERTH_E_NOT_LOGGED_IN' && /2 servers are saved and none is current/.test(err.message) && /berth servers use NAME/.test(err.hint ?? ''),
  );
  assert.deepEqual(resolveCredentials(env, 'dev'), { server: 'http://dev.example', token: 'dev-token' });
});

test('BERTH_SERVER and BERTH_TOKEN: the environment alone is enough, with no file read', async (t) => {
  const home = await tempDir(t);
  const env = { XDG_CONFIG_HOME: home, HOME: home };
  saveServers(env, one('http://saved.example:7070', 'saved-token'));
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
  const name = new URL(daemon.url).host;
  assert.equal(run.out, `logged in to ${daemon.url} as "${name}", now the current server; credentials saved in ${path}\n`);
  assert.doesNotMatch(run.out + run.err, new RegExp(GOOD_TOKEN));
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), fileOf(daemon.url, GOOD_TOKEN, name));
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
  assert.match(noServer.err, /required option '--server <url\|name>' not specified/);
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
  assert.deepEqual(JSON.parse(readFileSync(join(env.XDG_CONFIG_HOME!, 'berth', 'credentials.json'), 'utf8')), fileOf(daemon.url, GOOD_TOKEN, new URL(daemon.url).host));
  for (const argv of [['login', '--server', daemon.url], ['login', '--server', daemon.url, '--token', GOOD_TOKEN, '--token-stdin']]) {
    const refused = await berth(argv, { env, readStdin: async () => GOOD_TOKEN });
    assert.equal(refused.code, 1);
    assert.match(refused.err, /give the token with --token TOKEN or --token-stdin \(exactly one\) \[BERTH_E_USAGE\]/);
  }
});
