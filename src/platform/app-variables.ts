// Every variable an app's processes receive, with where it comes from:
// what `berth config list` shows, so nobody has to guess what the app gets
// (an add-on's DATABASE_URL, a config var overriding it, berth's own).
// Pure: the config, the add-ons' vars and the app's facts come in as data.

export interface AppVariable {
  readonly key: string;
  /** config, addon:KIND, or berth. */
  readonly source: string;
  /** Its value; null for a secret not revealed. berth's are never secret. */
  readonly value: string | null;
  /** The source whose value the processes get instead (the app's config wins over an add-on). */
  readonly overriddenBy: string | null;
}

export interface AppFacts {
  readonly app: string;
  /** The serving release (`v3`), or null before the first deploy. */
  readonly release: string | null;
  /** HOME as the processes see it, or null when berth does not set one (no app users). */
  readonly home: string | null;
}

/** berth's own variables, as the processes get them (DYNO and PORT differ per process). */
function berthVariables(facts: AppFacts): Array<[string, string]> {
  const vars: Array<[string, string]> = [
    ['BERTH_APP', facts.app],
    ['BERTH_RELEASE', facts.release ?? '(the serving release, e.g. v1)'],
    ['DYNO', '(per process: web.1, worker.2, release.1, scheduler.JOB)'],
    ['BERTH_INSTANCE', '(as DYNO)'],
    ['PORT', '(web processes: the port to listen on)'],
  ];
  if (facts.home !== null) vars.push(['HOME', facts.home]);
  return vars;
}

export function appVariables(
  config: Readonly<Record<string, string>>,
  addons: ReadonlyArray<{ readonly kind: string; readonly vars: Readonly<Record<string, string>> }>,
  facts: AppFacts,
  reveal: boolean,
): AppVariable[] {
  const rows: AppVariable[] = [];
  for (const [key, value] of berthVariables(facts)) rows.push({ key, source: 'berth', value, overriddenBy: null });
  for (const addon of addons) {
    for (const [key, value] of Object.entries(addon.vars)) {
      rows.push({ key, source: `addon:${addon.kind}`, value: reveal ? value : null, overriddenBy: key in config ? 'config' : null });
    }
  }
  for (const [key, value] of Object.entries(config)) rows.push({ key, source: 'config', value: reveal ? value : null, overriddenBy: null });
  const order = (source: string) => (source === 'config' ? 0 : source === 'berth' ? 2 : 1);
  return rows.sort((a, b) => a.key.localeCompare(b.key) || order(a.source) - order(b.source));
}
