// The child process of crash-safety.test.ts: opens the store in the state
// folder given as argv[2] and changes it as a deploy loop would, as fast as
// it can, until it is SIGKILLed. After each committed step it prints what it
// committed, so the parent can check that nothing acknowledged was lost.
import { Store } from '../../src/platform/index.ts';
import { WEB_MANIFEST } from './store-helpers.ts';

const dir = process.argv[2]!;
const deadline = Date.now() + 15_000; // never outlive a parent that died
const print = (line: string) => process.stdout.write(`${line}\n`);
const WEB = [{ name: 'web', command: 'node server.js' }];

print('opening');
const store = Store.open(dir);
store.failInterrupted();

const apps = ['alpha', 'beta'];
const builds = new Map<string, number>();
for (const app of apps) {
  store.transaction(() => {
    if (!store.listApps().some((a) => a.name === app)) store.createApp(app);
    const existing = store.listBuilds(app).find((b) => b.status === 'succeeded');
    if (existing !== undefined) {
      builds.set(app, existing.id);
    } else {
      const build = store.createBuild(app, { sourceDigest: 'sha256:0123456789abcdef', dir: `/srv/${app}`, logPath: `/srv/${app}.log` });
      builds.set(app, store.markBuild(build.id, 'succeeded', WEB_MANIFEST).id);
    }
  });
}
print('ready');

for (let i = 0; Date.now() < deadline; i++) {
  const app = apps[i % apps.length]!;
  // Step 1, one transaction: the new config and the pending release that snapshots it.
  const release = store.transaction(() => {
    store.setConfig(app, { N: String(i), [`K${i % 7}`]: `v${i}` });
    if (i % 5 === 0) store.unsetConfig(app, [`K${(i + 3) % 7}`]);
    return store.createRelease(app, { kind: 'config', description: `Set N`, buildId: builds.get(app)!, processes: WEB });
  });
  print(`pending ${app} ${release.version}`);
  // Step 2, one transaction: the release succeeded and serves (one in six fails instead).
  if (i % 6 === 5) {
    store.markRelease(release.id, 'failed');
    print(`failed ${app} ${release.version}`);
  } else {
    store.transaction(() => {
      store.markRelease(release.id, 'succeeded');
      store.setCurrentRelease(app, release.id);
      store.audit({ actor: 'system', action: 'config.set', target: app, result: 'ok', detail: { keys: ['N'] } });
    });
    print(`current ${app} ${release.version}`);
  }
  if (i % 10 === 9) store.pruneReleases(app, 5);
}
store.close();
