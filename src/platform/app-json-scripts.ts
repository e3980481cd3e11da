import type { AppJson, AppPlan } from '../build/index.ts';
import { BerthError } from '../errors.ts';
import { missingConfigError, planEnvSetup, planFormationSetup, type EnvSetup } from './app-json-setup.ts';
import type { ProcessSetup } from './process-setup.ts';
import type { Release } from './records.ts';
import type { Store } from './store.ts';

// What a deploy does for its app.json (Heroku's and Dokku's): the required
// vars checked before anything is built, the vars and formation it sets up
// in the transaction that makes the release (decided purely in
// app-json-setup.ts), scripts.predeploy before the release command (its
// failure fails the deploy), and the postdeploy scripts after the release
// serves (their failure never undoes it).

export class AppJsonScripts {
  readonly #store: Store;
  readonly #setup: ProcessSetup;

  constructor(store: Store, setup: ProcessSetup) {
    this.#store = store;
    this.#setup = setup;
  }

  /** What app.json's env does for this deploy; refuses it when a required var is missing. */
  planEnv(app: string, appJson: AppJson): EnvSetup {
    const present = new Set([...Object.keys(this.#store.getConfig(app)), ...Object.keys(this.#store.addonVars(app))]);
    const setup = planEnvSetup(appJson.env, present, this.#store.appJsonKeys(app));
    if (setup.missing.length > 0) throw missingConfigError(app, appJson.env, setup.missing);
    return setup;
  }

  /** Inside the transaction that makes the deploy's release: app.json's config vars and formation. The lines that say what it set (never a value). */
  setUp(app: string, appJson: AppJson, plan: AppPlan, env: EnvSetup | null): string[] {
    const declared = plan.kind === 'processes' ? plan.processes.map((p) => p.name) : [];
    const formation = planFormationSetup(appJson.formation, declared, new Set(Object.keys(this.#store.getFormation(app))));
    const done = this.#store.setUpAppJson(app, { fill: env?.fill ?? {}, keys: env?.keys ?? [], quantities: formation.quantities, memory: formation.memory });
    const generated = (env?.generated ?? []).filter((key) => done.filled.includes(key));
    const defaulted = (env?.defaulted ?? []).filter((key) => done.filled.includes(key));
    const lines: string[] = [];
    if (generated.length > 0) lines.push(`app.json: ${generated.join(', ')} set to a generated secret`);
    if (defaulted.length > 0) lines.push(`app.json: ${defaulted.join(', ')} set to app.json's value`);
    if (done.scaled.length > 0) lines.push(`app.json: formation ${done.scaled.map((type) => `${type}=${formation.quantities[type]}`).join(' ')} (from now on, berth scale decides)`);
    for (const type of formation.undeclared) lines.push(`app.json: formation.${type}: the app has no process type ${type}; ignored`);
    return lines;
  }

  /**
   * After a deploy's release serves: app.json's postdeploy when it is the
   * app's first release (once, as on Heroku), Dokku's postdeploy after
   * every deploy. A failure is reported, never undoes the deploy, and is
   * not retried.
   */
  async runPostdeploy(app: string, release: Release, appJson: AppJson, firstRelease: boolean, log: (line: string) => void): Promise<void> {
    const scripts: Array<[string, string | null]> = [
      ['postdeploy', firstRelease ? appJson.scripts.postdeploy : null],
      ['dokku.postdeploy', appJson.scripts.postdeployEach],
    ];
    for (const [name, command] of scripts) {
      if (command === null) continue;
      log(`running app.json's ${name}: ${command}`);
      try {
        const code = await this.#setup.runIn(app, release, command, 'postdeploy', log);
        log(code === 0 ? `app.json's ${name} succeeded` : `app.json's ${name} failed with exit code ${code}; v${release.version} keeps serving, and the script is not run again`);
      } catch (err) {
        log(`app.json's ${name} could not run: ${(err as Error).message}; v${release.version} keeps serving`);
      }
    }
  }

  /** app.json's scripts.predeploy, in the new release, before its release command and before traffic moves. */
  async runPredeploy(app: string, release: Release, log: (line: string) => void): Promise<void> {
    if (release.buildId === null) return;
    const command = (await this.#setup.manifestOf(this.#store.getBuild(release.buildId))).appJson?.scripts.predeploy ?? null;
    if (command === null) return;
    log(`running app.json's predeploy: ${command}`);
    const code = await this.#setup.runIn(app, release, command, 'predeploy', log);
    if (code !== 0) throw new BerthError('BERTH_E_PREDEPLOY_FAILED', `app.json's predeploy failed with exit code ${code}`, { status: 422, hint: 'scripts.predeploy must succeed before the release is activated; fix it and deploy again.' });
  }
}
