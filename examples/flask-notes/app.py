"""A Flask app with a SQLite database and static files, run by gunicorn under berth."""
import os
import sqlite3

from flask import Flask, g, jsonify, render_template_string, request

app = Flask(__name__, static_folder=None)

APP_DIR = os.path.dirname(os.path.abspath(__file__))
# The data folder: berth's storage add-on (BERTH_DATA_DIR), else the app's
# own folder while it can write there (berth up), else its HOME (under
# berth server as root the release is read-only; HOME is the app's, kept).
DATA_DIR = os.environ.get("BERTH_DATA_DIR") or (
    os.path.join(APP_DIR, "data") if os.access(APP_DIR, os.W_OK) else os.path.join(os.environ.get("HOME", "/tmp"), "data")
)
# `berth addons create postgres|sqlite` sets DATABASE_URL; without one the
# notes live in a SQLite file in the data folder.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
# A Redis add-on's user may only touch keys that start with the app's name.
REDIS_PREFIX = os.environ.get("BERTH_APP", "notes") + ":"

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Notes</title><link rel="stylesheet" href="/static/style.css"></head>
<body>
<h1>Notes</h1>
<form method="post" action="/notes"><label>Note <input name="text" required></label><button>Add</button></form>
<ul>{% for note in notes %}<li>{{ note["text"] }}</li>{% endfor %}</ul>
<p class="instance">served by {{ instance }}</p>
</body>
</html>
"""


class Database:
    """The notes table in PostgreSQL (psycopg2) or SQLite, behind one small interface."""

    def __init__(self):
        if DATABASE_URL.startswith(("postgres://", "postgresql://")):
            import psycopg2

            self.conn = psycopg2.connect(DATABASE_URL)
            self.mark = "%s"
            try:
                self.run("CREATE TABLE IF NOT EXISTS notes (id SERIAL PRIMARY KEY, text TEXT NOT NULL)")
            except psycopg2.Error:
                # Another worker created it at the same moment.
                self.conn.rollback()
        else:
            path = DATABASE_URL[len("sqlite:///"):] if DATABASE_URL.startswith("sqlite:///") else os.path.join(DATA_DIR, "notes.db")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.conn = sqlite3.connect(path, timeout=10)
            self.mark = "?"
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.run("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")

    def run(self, sql, params=()):
        cur = self.conn.cursor()
        cur.execute(sql.replace("?", self.mark), params)
        self.conn.commit()
        return cur

    def rows(self, sql, params=()):
        cur = self.conn.cursor()
        cur.execute(sql.replace("?", self.mark), params)
        names = [column[0] for column in cur.description]
        result = [dict(zip(names, row)) for row in cur.fetchall()]
        self.conn.commit()
        return result

    def close(self):
        self.conn.close()


def db():
    if "db" not in g:
        g.db = Database()
    return g.db


@app.teardown_appcontext
def close_db(_exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


@app.get("/")
def index():
    notes = db().rows("SELECT text FROM notes ORDER BY id")
    return render_template_string(PAGE, notes=notes, instance=os.environ.get("BERTH_INSTANCE", "web"))


@app.get("/health")
def health():
    db().rows("SELECT 1 AS ok")
    return "ok\n"


@app.get("/notes")
def list_notes():
    return jsonify(db().rows("SELECT id, text FROM notes ORDER BY id"))


@app.post("/notes")
def add_note():
    text = (request.get_json(silent=True) or {}).get("text") if request.is_json else request.form.get("text")
    if not text:
        return jsonify(error="text is required"), 400
    row = db().rows("INSERT INTO notes (text) VALUES (?) RETURNING id", (text,))[0]
    return jsonify(id=row["id"], text=text), 201


def redis_client():
    import redis

    return redis.Redis.from_url(REDIS_URL)


@app.post("/visits")
def visit():
    if not REDIS_URL:
        return jsonify(error="no REDIS_URL: berth addons create redis --app NAME"), 503
    return jsonify(visits=redis_client().incr(REDIS_PREFIX + "visits"))


@app.get("/visits")
def visits():
    if not REDIS_URL:
        return jsonify(error="no REDIS_URL: berth addons create redis --app NAME"), 503
    value = redis_client().get(REDIS_PREFIX + "visits")
    return jsonify(visits=int(value or 0))
