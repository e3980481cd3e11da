import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applicationSetting,
  collectedNote,
  collectstaticAfterProbe,
  collectstaticBeforeProbe,
  collectstaticDisabled,
  COLLECTSTATIC_ARGV,
  entryModuleCandidates,
  FACTS_MARKER,
  findDjangoProject,
  moduleFiles,
  parseStaticFacts,
  settingsModuleOf,
} from '../../src/build/django.ts';

// What startproject writes (Django 3.2 to 5.x alike).
const MANAGE = `#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError("Couldn't import Django.") from exc
    execute_from_command_line(sys.argv)


if __name__ == '__main__':
    main()
`;

test('manage.py names the settings module: setdefault or assignment, either quote; anything but a module path is not taken', () => {
  assert.equal(settingsModuleOf(MANAGE), 'mysite.settings');
  assert.equal(settingsModuleOf('os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")'), 'config.settings.production');
  assert.equal(settingsModuleOf("os.environ['DJANGO_SETTINGS_MODULE'] = 'gettingstarted.settings'"), 'gettingstarted.settings');
  assert.equal(settingsModuleOf('import sys\nprint(1)\n'), null, 'no settings module named');
  assert.equal(settingsModuleOf('os.environ.setdefault("DJANGO_SETTINGS_MODULE", "$(rm -rf /)")'), null, 'nothing that is not a dotted name reaches a command line');
  assert.equal(settingsModuleOf('os.environ.setdefault("DJANGO_SETTINGS_MODULE", "a..b")'), null);
  assert.equal(settingsModuleOf('os.environ.setdefault("DJANGO_SETTINGS_MODULE", "")'), null);
});

test('a module is a file or a package', () => {
  assert.deepEqual(moduleFiles('mysite.settings'), ['mysite/settings.py', 'mysite/settings/__init__.py']);
  assert.deepEqual(moduleFiles('settings'), ['settings.py', 'settings/__init__.py']);
});

test('WSGI_APPLICATION / ASGI_APPLICATION at the top of the settings, as module and attribute', () => {
  assert.deepEqual(applicationSetting("WSGI_APPLICATION = 'mysite.wsgi.application'\n", 'WSGI_APPLICATION'), { module: 'mysite.wsgi', attribute: 'application' });
  assert.deepEqual(applicationSetting('DEBUG = True\nWSGI_APPLICATION="project.server.app"\n', 'WSGI_APPLICATION'), { module: 'project.server', attribute: 'app' });
  assert.deepEqual(applicationSetting("ASGI_APPLICATION = 'mysite.asgi.application'", 'ASGI_APPLICATION'), { module: 'mysite.asgi', attribute: 'application' });
  assert.equal(applicationSetting("ASGI_APPLICATION = 'mysite.asgi.application'", 'WSGI_APPLICATION'), null);
  assert.equal(applicationSetting("    WSGI_APPLICATION = 'x.wsgi.application'", 'WSGI_APPLICATION'), null, 'indented: inside an if, not the setting');
  assert.equal(applicationSetting("WSGI_APPLICATION = 'application'", 'WSGI_APPLICATION'), null, 'no module');
  assert.equal(applicationSetting("WSGI_APPLICATION = 'x.wsgi.app;id'", 'WSGI_APPLICATION'), null);
  assert.equal(applicationSetting('WSGI_APPLICATION = env("WSGI")', 'WSGI_APPLICATION'), null, 'computed: not guessed');
});

test("the entry module's candidates: beside the settings, then each package above", () => {
  assert.deepEqual(entryModuleCandidates('mysite.settings', 'wsgi'), ['mysite.wsgi']);
  assert.deepEqual(entryModuleCandidates('config.settings.production', 'wsgi'), ['config.settings.wsgi', 'config.wsgi']);
  assert.deepEqual(entryModuleCandidates('config.settings.production', 'asgi'), ['config.settings.asgi', 'config.asgi']);
  assert.deepEqual(entryModuleCandidates('settings', 'wsgi'), [], 'settings at the top: the generic wsgi.py detection takes over');
});

function reader(files: Record<string, string>): (path: string) => Promise<string | null> {
  return async (path) => files[path] ?? null;
}

test('a Django project: the settings name the WSGI application; else the wsgi.py next to them; else none', async () => {
  const startproject = { 'manage.py': MANAGE, 'mysite/settings.py': "WSGI_APPLICATION = 'mysite.wsgi.application'\n", 'mysite/wsgi.py': 'application = get_wsgi_application()\n' };
  assert.deepEqual(await findDjangoProject(reader(startproject), 'gunicorn'), { settingsModule: 'mysite.settings', target: 'mysite.wsgi:application', source: 'WSGI_APPLICATION in mysite/settings.py' });

  const renamed = { ...startproject, 'mysite/settings.py': "WSGI_APPLICATION = 'mysite.server.application'\n", 'mysite/server.py': '' };
  assert.equal((await findDjangoProject(reader(renamed), 'gunicorn'))?.target, 'mysite.server:application');

  const missing = { ...startproject, 'mysite/settings.py': "WSGI_APPLICATION = 'mysite.gone.application'\n" };
  assert.deepEqual(await findDjangoProject(reader(missing), 'gunicorn'), { settingsModule: 'mysite.settings', target: 'mysite.wsgi:application', source: 'mysite/wsgi.py' }, 'a setting naming no file falls back to wsgi.py');

  const cookiecutter = {
    'manage.py': 'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")',
    'config/settings/local.py': 'from .base import *  # noqa\n',
    'config/settings/base.py': 'WSGI_APPLICATION = "config.wsgi.application"\n',
    'config/wsgi.py': 'application = get_wsgi_application()\n',
  };
  assert.deepEqual(await findDjangoProject(reader(cookiecutter), 'gunicorn'), { settingsModule: 'config.settings.local', target: 'config.wsgi:application', source: 'config/wsgi.py' });

  const asgi = { ...startproject, 'mysite/asgi.py': 'application = get_asgi_application()\n' };
  assert.equal((await findDjangoProject(reader(asgi), 'uvicorn'))?.target, 'mysite.asgi:application', 'uvicorn gets the ASGI application');

  const bare = { 'manage.py': MANAGE, 'mysite/settings.py': '' };
  assert.deepEqual(await findDjangoProject(reader(bare), 'gunicorn'), { settingsModule: 'mysite.settings', target: null, source: null });
  assert.equal(await findDjangoProject(reader({ 'manage.py': 'print(1)' }), 'gunicorn'), null, 'a manage.py that is not Django');
  assert.equal(await findDjangoProject(reader({}), 'gunicorn'), null);
});

test("DISABLE_COLLECTSTATIC as Heroku reads it: any value but '' or '0' skips", () => {
  assert.equal(collectstaticDisabled(undefined), false);
  assert.equal(collectstaticDisabled(''), false);
  assert.equal(collectstaticDisabled('0'), false);
  for (const value of ['1', 'true', 'yes', 'false']) assert.equal(collectstaticDisabled(value), true, value);
  assert.deepEqual(collectstaticBeforeProbe('1'), { run: false, note: 'collectstatic skipped: DISABLE_COLLECTSTATIC is set ("1")' });
  assert.equal(collectstaticBeforeProbe(undefined), null, 'not disabled: Django is asked');
  assert.equal(collectstaticBeforeProbe('0'), null);
});

test('collectstatic runs when Django says STATIC_ROOT is set, and only then', () => {
  assert.deepEqual(collectstaticAfterProbe({ staticRoot: '/srv/app/staticfiles', staticUrl: '/static/' }), { run: true, argv: COLLECTSTATIC_ARGV });
  assert.deepEqual(COLLECTSTATIC_ARGV, ['python', 'manage.py', 'collectstatic', '--noinput']);
  assert.deepEqual(collectstaticAfterProbe({ staticRoot: null, staticUrl: '/static/' }), { run: false, note: 'collectstatic skipped: the settings set no STATIC_ROOT' });
});

test("the probe's facts are its last marked line; the settings' own output and garbage are not facts", () => {
  const line = (value: unknown) => FACTS_MARKER + JSON.stringify(value);
  assert.deepEqual(parseStaticFacts(['settings loaded', line({ static_root: '/b/staticfiles', static_url: '/static/' })]), { staticRoot: '/b/staticfiles', staticUrl: '/static/' });
  assert.deepEqual(parseStaticFacts([line({ static_root: null, static_url: null })]), { staticRoot: null, staticUrl: null });
  assert.deepEqual(parseStaticFacts([line({ static_root: '/old', static_url: '/s/' }), line({ static_root: '/new', static_url: '/s/' })])?.staticRoot, '/new');
  assert.equal(parseStaticFacts(['{"static_root": "/x"}']), null, 'unmarked');
  assert.equal(parseStaticFacts([`${FACTS_MARKER}{not json`]), null);
  assert.equal(parseStaticFacts([line({ static_root: 3, static_url: '/s/' })]), null);
  assert.equal(parseStaticFacts([line(['/x'])]), null);
  assert.equal(parseStaticFacts([]), null);
});

test('after collectstatic, the log says where the files are and how the edge serves them', () => {
  const facts = { staticRoot: '/srv/b1/staticfiles', staticUrl: '/static/' };
  assert.equal(collectedNote(facts, '/srv/b1', []), 'static files collected into staticfiles/; to have the edge serve them, add to berth.toml: [static] "/static" = "staticfiles"');
  assert.equal(collectedNote(facts, '/srv/b1', ['staticfiles/']), 'static files collected into staticfiles/, served by the edge ([static] in berth.toml)');
  assert.equal(collectedNote(facts, '/srv/b1', ['./staticfiles']), 'static files collected into staticfiles/, served by the edge ([static] in berth.toml)');
  assert.equal(collectedNote({ staticRoot: '/srv/b1/public/assets', staticUrl: '/assets/' }, '/srv/b1', ['static']), 'static files collected into public/assets/; to have the edge serve them, add to berth.toml: [static] "/assets" = "public/assets"');
  assert.equal(collectedNote({ ...facts, staticUrl: 'https://cdn.example.com/static/' }, '/srv/b1', []), 'static files collected into staticfiles/', 'a CDN serves them: nothing to add');
  assert.equal(collectedNote({ ...facts, staticUrl: '//cdn.example.com/static/' }, '/srv/b1', []), 'static files collected into staticfiles/');
  assert.match(collectedNote({ ...facts, staticRoot: '/var/www/static' }, '/srv/b1', []), /collected into \/var\/www\/static, outside the release: the edge cannot serve them/);
  assert.match(collectedNote({ ...facts, staticRoot: '/srv/b1' }, '/srv/b1', []), /outside the release/, 'the release folder itself is not a static folder');
});
