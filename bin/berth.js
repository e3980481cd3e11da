#!/usr/bin/env node
// The installed entry point. berth runs from dist/, its build (plain
// JavaScript, compiled by `npm run build`, which `npm ci` and `npm pack`
// run), when that build is current or when there are no sources (an
// installed package), and from its TypeScript sources otherwise;
// bin/dist.js explains how "current" is decided. The sources are the truth:
// a stale build is never run, and says so.
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

const { builtEntry, ROOT, SOURCE_ENTRY } = await import('./dist.js');
const { existsSync } = await import('node:fs');
const { join } = await import('node:path');
const { entry, stale } = builtEntry(ROOT);
if (entry === null && !existsSync(join(ROOT, SOURCE_ENTRY))) {
  // A package packed without its build (or a damaged install): say so rather than fail to import.
  process.stderr.write(`berth: ${ROOT} holds neither dist/ nor src/; reinstall berth (a package is made with \`npm pack\`, which builds dist/)\n`);
  process.exit(1);
}
if (stale) process.stderr.write('berth: dist/ is older than src/, running the sources (run `npm run build` to start faster)\n');
await import(entry?.href ?? '../src/cli/main.ts');
