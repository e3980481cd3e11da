import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The dashboard's files, read once when it starts and served from memory.
//
// Its own pages are hand-written HTML, CSS and JavaScript modules in
// src/dashboard/assets/: no framework and no build step. The folder is found
// from the repository root, which is two levels above this module both in
// src/dashboard/ and in the compiled dist/dashboard/ (tsc copies no assets),
// so one copy serves both ways of running.
//
// uPlot comes from the installed package (node_modules/uplot/dist/), found
// with import.meta.resolve like any import: a copy in the repository would be
// one more thing to keep in step with package.json, and the package's files
// are already the built, minified ones a browser needs.

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const UPLOT = ['uPlot.iife.min.js', 'uPlot.min.css'];

export const ASSETS_DIR = fileURLToPath(new URL('../../src/dashboard/assets/', import.meta.url));

function asset(body: Buffer, name: string): Asset {
  const type = TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export async function loadAssets(dir: string = ASSETS_DIR): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const entry of await readdir(dir, { withFileTypes: true })) if (entry.isFile()) assets.set(entry.name, asset(await readFile(join(dir, entry.name)), entry.name));
  for (const name of UPLOT) assets.set(name, asset(await readFile(fileURLToPath(import.meta.resolve(`uplot/dist/${name}`))), name));
  return assets;
}
