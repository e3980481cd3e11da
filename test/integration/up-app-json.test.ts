// berth up reads app.json as berth server does, without keeping state: its
// vars the environment lacks (a secret made for the run), its formation's
// counts, its predeploy before the release command; a required var the
// environment lacks refuses the run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess, runBerth } from '../helpers/berth-process.ts';

const WEB = `
import { createServer } from 'node:http';
createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ instance: process.env.DYNO, SECRET_KEY: process.env.SECRET_KEY ?? null, GREETING: process.env.GREETING ?? null, FROM_ENV: process.env.FROM_ENV ?? null }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

/** Appends "KIND DYNO GREETING" to events.log in the app folder. */
const RECORD = `
import { appendFileSync } from 'node:fs';
appendFileSync('events.log', [process.argv[2], process.env.DYNO, process.env.GREETING].join(' ') + '\\n');
`;

async function appDir(root: string, appJson: unknown): Promise<string> {
  const dir = join(root, 'app');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.mjs'), WEB);
  await writeFile(join(dir, 'record.mjs'), RECORD);
  await writeFile(join(dir, 'Procfile'), 'web: node server.mjs\nrelease: node record.mjs release\n');
  await writeFile(join(dir, 'app.json'), JSON.stringify(appJson));
  return dir;
}

test("berth up: app.json's vars under the environment's, a secret for the run, its formation, predeploy then release", { timeout: 120_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-up-app-json-'));
  const dir = await appDir(root, {
    env: { SECRET_KEY: { generator: 'secret' }, GREETING: 'hello', FROM_ENV: { value: 'app.json' } },
    formation: { web: { quantity: 2 } },
    scripts: { predeploy: 'node record.mjs predeploy', postdeploy: 'node record.mjs postdeploy' },
    cron: [{ command: 'node record.mjs cron', schedule: '@daily' }],
  });
  const berth = new BerthProcess(['up', dir, '--listen', '127.0.0.1:0'], { env: { FROM_ENV: 'mine' } });
  t.after(() => berth.kill());
  t.after(() => rm(root, { recursive: true, force: true }));
  const url = await berth.url();
  await berth.waitFor(/web\.1 ready/);
  await berth.waitFor(/web\.2 ready/);
  assert.match(berth.output, /app\.json: SECRET_KEY generated for this run/);
  assert.match(berth.output, /app\.json: postdeploy scripts run under berth server only/);
  assert.match(berth.output, /app\.json: cron jobs run under berth server only/);
  const seen = new Map<string, { SECRET_KEY: string; GREETING: string; FROM_ENV: string }>();
  for (let i = 0; i < 20 && seen.size < 2; i++) {
    const answer = (await (await fetch(url)).json()) as { instance: string; SECRET_KEY: string; GREETING: string; FROM_ENV: string };
    seen.set(answer.instance, answer);
  }
  assert.deepEqual([...seen.keys()].sort(), ['web.1', 'web.2'], 'two instances, as the formation says');
  const [one, two] = [...seen.values()];
  assert.match(one!.SECRET_KEY, /^[0-9a-f]{64}$/);
  assert.equal(two!.SECRET_KEY, one!.SECRET_KEY, 'one secret for the whole run');
  assert.ok(!berth.output.includes(one!.SECRET_KEY), 'never printed');
  assert.equal(one!.GREETING, 'hello');
  assert.equal(one!.FROM_ENV, 'mine', 'the environment wins over app.json');
  assert.deepEqual((await readFile(join(dir, 'events.log'), 'utf8')).trim().split('\n'), ['predeploy predeploy.1 hello', 'release release.1 hello']);
});

test('berth up refuses to run without a var app.json requires, naming it', { timeout: 60_000 }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-up-app-json-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const dir = await appDir(root, { env: { API_TOKEN: { description: 'the token' } } });
  const { code, output } = await runBerth(['up', dir, '--listen', '127.0.0.1:0']);
  assert.equal(code, 1, output);
  assert.match(output, /app\.json requires API_TOKEN, which the environment does not have \[BERTH_E_CONFIG_REQUIRED\]/);
  assert.match(output, /hint: Set it where berth up runs: API_TOKEN=\.\.\. berth up/);
});
