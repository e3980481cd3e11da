// Flask's tutorial app, unchanged: a package whose __init__.py has an app
// factory (create_app), no wsgi.py. berth finds the factory and gunicorn
// calls it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthProcess } from '../helpers/berth-process.ts';

const FACTORY = `import os
from flask import Flask


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SECRET_KEY='dev')

    @app.route('/hello')
    def hello():
        return 'Hello, World!'

    return app
`;

test('berth up runs a Flask app factory (flaskr/__init__.py: create_app) under gunicorn, as the tutorial writes it', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-flaskr-'));
  await mkdir(join(dir, 'flaskr'));
  await writeFile(join(dir, 'flaskr', '__init__.py'), FACTORY);
  await writeFile(join(dir, 'requirements.txt'), '');
  // Debian's Flask and gunicorn (PyPI is not reachable here).
  await writeFile(join(dir, 'berth.toml'), '[python]\nsystem_site_packages = true\n');
  const berth = new BerthProcess(['up', dir, '--listen', '127.0.0.1:0']);
  t.after(() => berth.kill());
  t.after(() => rm(dir, { recursive: true, force: true }));
  const url = await berth.url();
  await berth.waitFor(/web\.1 ready/);
  const res = await fetch(`${url}/hello`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'Hello, World!');
  await berth.stop('SIGTERM');
});
