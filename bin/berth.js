#!/usr/bin/env node
// The installed entry point. berth runs from dist/, its build (plain
// JavaScript, compiled by `npm run build`, which `npm ci` runs), when that
// build is current, and from its TypeScript sources otherwise; bin/dist.js
// explains how "current" is decided. The sources are the truth: a stale
// build is never run, and says so.
//
// The Node.js version is checked first, before anything is imported: an
// older Node fails on what berth loads (node:sqlite, TypeScript sources,
// newer fs options) with a stack trace that does not say the cause. So this
// file imports nothing statically and uses nothing a Node with ES modules
// lacks.
const NEEDED_MAJOR = 24;
if (Number(process.versions.node.split('.')[0]) < NEEDED_MAJOR) {
  process.stderr.write(`berth needs Node.js ${NEEDED_MAJOR} or newer (this is Node.js ${process.version})\n`);
  process.exit(1);
}

const { builtEntry, ROOT } = await import('./dist.js');
const { entry, stale } = builtEntry(ROOT);
if (stale) process.stderr.write('berth: dist/ is older than src/, running the sources (run `npm run build` to start faster)\n');
await import(entry?.href ?? '../src/cli/main.ts');
