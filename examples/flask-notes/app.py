"""A Flask app with a SQLite database and static files, run by gunicorn under berth."""
import os
import sqlite3

from flask import Flask, g, jsonify, render_template_string, request

app = Flask(__name__, static_folder=None)

DATA_DIR = os.environ.get("BERTH_DATA_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
DATABASE = os.path.join(DATA_DIR, "notes.db")

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


def db():
    if "db" not in g:
        os.makedirs(DATA_DIR, exist_ok=True)
        conn = sqlite3.connect(DATABASE, timeout=10)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
        g.db = conn
    return g.db


@app.teardown_appcontext
def close_db(_exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


@app.get("/")
def index():
    notes = db().execute("SELECT text FROM notes ORDER BY id").fetchall()
    return render_template_string(PAGE, notes=notes, instance=os.environ.get("BERTH_INSTANCE", "web"))


@app.get("/health")
def health():
    db().execute("SELECT 1")
    return "ok\n"


@app.get("/notes")
def list_notes():
    rows = db().execute("SELECT id, text FROM notes ORDER BY id").fetchall()
    return jsonify([dict(row) for row in rows])


@app.post("/notes")
def add_note():
    text = (request.get_json(silent=True) or {}).get("text") if request.is_json else request.form.get("text")
    if not text:
        return jsonify(error="text is required"), 400
    conn = db()
    cur = conn.execute("INSERT INTO notes (text) VALUES (?)", (text,))
    conn.commit()
    return jsonify(id=cur.lastrowid, text=text), 201
