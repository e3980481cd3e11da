import { isAbsolute, relative, sep } from 'node:path';

// Django, the way Heroku's Python buildpack treats it: a project is a
// manage.py at the top that names its settings module; the web process is
// the WSGI application the settings name (or the wsgi.py beside them) under
// gunicorn; `collectstatic` runs at build when the settings set STATIC_ROOT,
// unless DISABLE_COLLECTSTATIC says not to. What the settings set is asked
// of Django itself at build time (the probe below), never parsed; what runs
// is decided here from those facts. Pure, except findDjangoProject, which
// reads through the reader it is given.

/** A dotted Python module path of identifiers only: it ends up in a command line, so nothing else may pass. */
const MODULE = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$/;

// os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings") (what startproject writes),
// or os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings".
const SETTINGS_IN_MANAGE = [
  /os\.environ\.setdefault\(\s*(["'])DJANGO_SETTINGS_MODULE\1\s*,\s*(["'])([^"'\n]*)\2\s*\)/,
  /os\.environ\[\s*(["'])DJANGO_SETTINGS_MODULE\1\s*\]\s*=\s*(["'])([^"'\n]*)\2/,
];

/** The settings module manage.py names, or null when it names none (or not as a plain module path). */
export function settingsModuleOf(manage: string): string | null {
  for (const pattern of SETTINGS_IN_MANAGE) {
    const found = pattern.exec(manage)?.[3];
    if (found !== undefined && MODULE.test(found)) return found;
  }
  return null;
}

/** The files a dotted module may be: `a/b.py` or the package `a/b/__init__.py`. */
export function moduleFiles(module: string): string[] {
  const path = module.split('.').join('/');
  return [`${path}.py`, `${path}/__init__.py`];
}

/** `WSGI_APPLICATION = "mysite.wsgi.application"` (or ASGI_APPLICATION) at the top level of a settings file, as module and attribute. */
export function applicationSetting(settings: string, key: 'WSGI_APPLICATION' | 'ASGI_APPLICATION'): { module: string; attribute: string } | null {
  const found = new RegExp(`^${key}\\s*=\\s*(["'])([^"'\\n]*)\\1`, 'm').exec(settings)?.[2];
  if (found === undefined || !MODULE.test(found) || !found.includes('.')) return null;
  const dot = found.lastIndexOf('.');
  return { module: found.slice(0, dot), attribute: found.slice(dot + 1) };
}

/**
 * Where the entry module sits when the settings do not say: `wsgi.py` in
 * the settings' package, then in each package above it (`mysite.settings`
 * → `mysite.wsgi`; `config.settings.production` → `config.settings.wsgi`,
 * `config.wsgi`, as cookiecutter-django lays it out).
 */
export function entryModuleCandidates(settingsModule: string, kind: 'wsgi' | 'asgi'): string[] {
  const parts = settingsModule.split('.').slice(0, -1);
  const candidates: string[] = [];
  for (let depth = parts.length; depth >= 1; depth--) candidates.push([...parts.slice(0, depth), kind].join('.'));
  return candidates;
}

export interface DjangoProject {
  /** From manage.py, e.g. "mysite.settings". */
  readonly settingsModule: string;
  /** What the server runs ("mysite.wsgi:application"), or null when neither the settings nor a wsgi.py beside them says. */
  readonly target: string | null;
  /** Where the target came from, for the build log. */
  readonly source: string | null;
}

/**
 * The Django project at the top of an app folder, or null when there is
 * none (no manage.py, or one that names no settings module). `read` returns
 * a file of the app (a path relative to its folder) or null; it is the
 * caller's confined read.
 */
export async function findDjangoProject(read: (path: string) => Promise<string | null>, server: 'gunicorn' | 'uvicorn'): Promise<DjangoProject | null> {
  const manage = await read('manage.py');
  if (manage === null) return null;
  const settingsModule = settingsModuleOf(manage);
  if (settingsModule === null) return null;
  const key = server === 'uvicorn' ? 'ASGI_APPLICATION' : 'WSGI_APPLICATION';
  const exists = async (module: string) => {
    for (const file of moduleFiles(module)) if ((await read(file)) !== null) return true;
    return false;
  };
  for (const file of moduleFiles(settingsModule)) {
    const settings = await read(file);
    if (settings === null) continue;
    const named = applicationSetting(settings, key);
    if (named !== null && (await exists(named.module))) return { settingsModule, target: `${named.module}:${named.attribute}`, source: `${key} in ${file}` };
    break;
  }
  for (const module of entryModuleCandidates(settingsModule, server === 'uvicorn' ? 'asgi' : 'wsgi')) {
    if (await exists(module)) return { settingsModule, target: `${module}:application`, source: `${module.split('.').join('/')}.py` };
  }
  return { settingsModule, target: null, source: null };
}

// ---- collectstatic --------------------------------------------------------

/** Heroku's switch: set to anything but "" or "0", collectstatic is skipped. */
export function collectstaticDisabled(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0';
}

/** What a build learns from Django about its static files. */
export interface DjangoStaticFacts {
  /** settings.STATIC_ROOT as Django sees it, or null when unset. */
  readonly staticRoot: string | null;
  /** settings.STATIC_URL, or null when unset. */
  readonly staticUrl: string | null;
}

/** The line the probe prints its facts on, so the settings' own output cannot be taken for them. */
export const FACTS_MARKER = 'berth-django-facts ';

/**
 * Asks Django (with the project's settings loaded by manage.py, as
 * collectstatic itself would load them) what STATIC_ROOT and STATIC_URL
 * are. Run as `python manage.py shell -c PROBE`.
 */
export const STATIC_PROBE = [
  'import json',
  'from django.conf import settings',
  'root = settings.STATIC_ROOT',
  'url = settings.STATIC_URL',
  `print(${JSON.stringify(FACTS_MARKER)} + json.dumps({"static_root": str(root) if root else None, "static_url": str(url) if url else None}), flush=True)`,
].join('\n');

export const PROBE_ARGV: readonly string[] = ['python', 'manage.py', 'shell', '-c', STATIC_PROBE];
export const COLLECTSTATIC_ARGV: readonly string[] = ['python', 'manage.py', 'collectstatic', '--noinput'];

/** The probe's facts from its output lines (the last marked line), or null when it printed none that parse. */
export function parseStaticFacts(lines: readonly string[]): DjangoStaticFacts | null {
  const line = lines.findLast((l) => l.startsWith(FACTS_MARKER));
  if (line === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(line.slice(FACTS_MARKER.length));
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  const { static_root: root, static_url: url } = value as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : v === null ? null : undefined);
  const staticRoot = text(root);
  const staticUrl = text(url);
  if (staticRoot === undefined || staticUrl === undefined) return null;
  return { staticRoot, staticUrl };
}

export type CollectstaticDecision =
  | { readonly run: false; readonly note: string }
  | { readonly run: true; readonly argv: readonly string[] };

/** Whether to ask Django at all: not when DISABLE_COLLECTSTATIC says to skip. */
export function collectstaticBeforeProbe(disable: string | undefined): CollectstaticDecision | null {
  if (collectstaticDisabled(disable)) return { run: false, note: `collectstatic skipped: DISABLE_COLLECTSTATIC is set (${JSON.stringify(disable)})` };
  return null;
}

/** Once Django has answered: collectstatic runs when STATIC_ROOT is set. */
export function collectstaticAfterProbe(facts: DjangoStaticFacts): CollectstaticDecision {
  if (facts.staticRoot === null) return { run: false, note: 'collectstatic skipped: the settings set no STATIC_ROOT' };
  return { run: true, argv: COLLECTSTATIC_ARGV };
}

/**
 * After collectstatic: where the files went and, when the edge does not
 * serve them yet, the berth.toml lines that make it (a STATIC_URL that is a
 * path on this site, a STATIC_ROOT inside the release). `servedDirs` are the
 * folders berth.toml's [static] already maps.
 */
export function collectedNote(facts: DjangoStaticFacts, buildDir: string, servedDirs: readonly string[]): string {
  const root = facts.staticRoot ?? '';
  const inside = isAbsolute(root) ? relative(buildDir, root) : root;
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
    return `static files collected into ${root}, outside the release: the edge cannot serve them from there (set STATIC_ROOT inside the app, e.g. BASE_DIR / "staticfiles")`;
  }
  const dir = inside.split(sep).join('/');
  const shown = `static files collected into ${dir}/`;
  const normal = (d: string) => d.replace(/^\.\//, '').replace(/\/+$/, '');
  if (servedDirs.some((served) => normal(served) === dir)) return `${shown}, served by the edge ([static] in berth.toml)`;
  const url = facts.staticUrl;
  if (url === null || !url.startsWith('/') || url.startsWith('//')) return shown;
  const prefix = url.length > 1 ? url.replace(/\/+$/, '') : url;
  return `${shown}; to have the edge serve them, add to berth.toml: [static] "${prefix}" = "${dir}"`;
}
