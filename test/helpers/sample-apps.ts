// Apps written the way the public samples write them, for tests that deploy
// them unchanged: a Django project like Heroku's getting-started app, Flask's
// tutorial factory, a Node app with a Vite build's hashed assets. Each
// writes its files into a folder; nothing here talks to berth.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
}

// ---- Django ---------------------------------------------------------------

const MANAGE = `#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gettingstarted.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
`;

/**
 * Heroku's getting-started settings, trimmed to what Debian's Django 3.2 and
 * dj-database-url 0.5 have: on a dyno (DYNO set) PostgreSQL from
 * DATABASE_URL with TLS required; elsewhere (a build, a laptop) SQLite.
 */
const SETTINGS = `import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-sample-key-for-tests-only")

IS_HEROKU_APP = "DYNO" in os.environ and "CI" not in os.environ

DEBUG = not IS_HEROKU_APP

if IS_HEROKU_APP:
    ALLOWED_HOSTS = ["*"]
else:
    ALLOWED_HOSTS = [".localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "hello",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gettingstarted.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "gettingstarted.wsgi.application"

if IS_HEROKU_APP:
    DATABASES = {
        "default": dj_database_url.config(
            conn_max_age=600,
            ssl_require=True,
        ),
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
        }
    }

AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_URL = "static/"

# Hashed names, a manifest the templates read: pages fail without collectstatic.
STATICFILES_STORAGE = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
`;

const DJANGO_FILES: Record<string, string> = {
  'manage.py': MANAGE,
  // Debian's packages (PyPI is not reachable here): pip finds them already installed.
  'requirements.txt': 'django\ngunicorn\ndj-database-url\npsycopg2\n',
  'gettingstarted/__init__.py': '',
  'gettingstarted/settings.py': SETTINGS,
  'gettingstarted/urls.py': `from django.contrib import admin
from django.urls import path

import hello.views

urlpatterns = [
    path("", hello.views.index, name="index"),
    path("db/", hello.views.db, name="db"),
    path("ssl/", hello.views.ssl, name="ssl"),
    path("admin/", admin.site.urls),
]
`,
  'gettingstarted/wsgi.py': `import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gettingstarted.settings")

application = get_wsgi_application()
`,
  'hello/__init__.py': '',
  'hello/apps.py': `from django.apps import AppConfig


class HelloConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "hello"
`,
  'hello/models.py': `from django.db import models


class Greeting(models.Model):
    when = models.DateTimeField("date created", auto_now_add=True)
    note = models.CharField(max_length=200, default="")
`,
  'hello/migrations/__init__.py': '',
  'hello/migrations/0001_initial.py': `from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Greeting",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("when", models.DateTimeField(auto_now_add=True, verbose_name="date created")),
                ("note", models.CharField(default="", max_length=200)),
            ],
        ),
    ]
`,
  'hello/views.py': `import os

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from .models import Greeting


def index(request):
    return render(request, "index.html")


def db(request):
    # As the getting-started app does: each visit adds a greeting, the page lists them all.
    Greeting.objects.create(note=request.GET.get("note", "visit"))
    greetings = Greeting.objects.order_by("id")
    return render(request, "db.html", {"greetings": greetings})


def ssl(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        row = cursor.fetchone()
    # berth's addition: the CA root the add-on points PGSSLROOTCERT at is readable here.
    rootcert = os.access(os.environ.get("PGSSLROOTCERT", ""), os.R_OK)
    return JsonResponse({"vendor": connection.vendor, "ssl": row[0], "version": row[1], "rootcert": rootcert})
`,
  'hello/management/__init__.py': '',
  'hello/management/commands/__init__.py': '',
  // For one-off commands (berth run): a row the web process then lists.
  'hello/management/commands/add_greeting.py': `from django.core.management.base import BaseCommand

from hello.models import Greeting


class Command(BaseCommand):
    help = "Adds a greeting."

    def add_arguments(self, parser):
        parser.add_argument("note")

    def handle(self, *args, **options):
        greeting = Greeting.objects.create(note=options["note"])
        self.stdout.write(f"added greeting {greeting.id}: {greeting.note}")
`,
  'hello/templates/index.html': `{% load static %}<!DOCTYPE html>
<html>
<head><title>Getting started</title><link rel="stylesheet" href="{% static 'hello/style.css' %}"></head>
<body><h1>Getting Started with Python on berth</h1></body>
</html>
`,
  'hello/templates/db.html': `<!DOCTYPE html>
<html><body><ul>{% for greeting in greetings %}<li>greeting {{ greeting.id }}: {{ greeting.note }}</li>{% endfor %}</ul></body></html>
`,
  'hello/static/hello/style.css': 'h1 { color: #6762a6; }\n',
  Procfile: 'release: python manage.py migrate --noinput\n',
  // Debian's Django and gunicorn; the edge serves what collectstatic gathered.
  'berth.toml': '[python]\nsystem_site_packages = true\n\n[static]\n"/static" = "staticfiles"\n',
};

/** Heroku's getting-started Django app, as written for Debian's packages; `files` replace or add files. */
export async function writeDjangoSample(dir: string, files: Record<string, string> = {}): Promise<void> {
  await writeFiles(dir, { ...DJANGO_FILES, ...files });
}

/** The sample's settings file with `replace` applied, for variants (no STATIC_ROOT, a broken one). */
export function djangoSettings(replace: (settings: string) => string): Record<string, string> {
  return { 'gettingstarted/settings.py': replace(SETTINGS) };
}

// ---- Flask ----------------------------------------------------------------

/** Flask's tutorial layout: a package whose __init__.py has create_app(). */
export async function writeFlaskFactorySample(dir: string): Promise<void> {
  await writeFiles(dir, {
    'flaskr/__init__.py': `import os

from flask import Flask


def create_app(test_config=None):
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(SECRET_KEY="dev")

    @app.route("/hello")
    def hello():
        return "Hello, World!"

    return app
`,
    'requirements.txt': 'flask\n',
    'berth.toml': '[python]\nsystem_site_packages = true\n',
  });
}

// ---- Node with a Vite build ------------------------------------------------

/** The hashed name Vite gives the entry chunk (base64url-ish, eight characters). */
export const VITE_ASSET = 'index-BdT3xq9L.js';

/**
 * A Node server with a front end built by Vite: `npm run build` (here a
 * small script standing in for vite, which is not installed) writes
 * dist/index.html and dist/assets/index-HASH.js; the server renders pages
 * and the edge serves dist/assets.
 */
export async function writeViteSample(dir: string): Promise<void> {
  await writeFiles(dir, {
    'package.json': JSON.stringify({ name: 'vite-sample', private: true, type: 'module', scripts: { build: 'node build.js', start: 'node server.js' } }, null, 2),
    'build.js': `import { mkdirSync, writeFileSync } from 'node:fs';
mkdirSync('dist/assets', { recursive: true });
writeFileSync('dist/assets/${VITE_ASSET}', 'console.log("hello from vite");\\n');
writeFileSync('dist/index.html', '<!doctype html><script type="module" src="/assets/${VITE_ASSET}"></script>');
`,
    'server.js': `import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
const page = readFileSync('dist/index.html', 'utf8');
createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(page);
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
    'berth.toml': '[static]\n"/assets" = "dist/assets"\n',
  });
}
