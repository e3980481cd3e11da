#!/usr/bin/env node
// The installed entry point. berth runs from dist/, its build (plain
// JavaScript, compiled by `npm run build`, which `npm ci` runs), when that
// build is current, and from its TypeScript sources otherwise; bin/dist.js
// explains how "current" is decided. The sources are the truth: a stale
// build is never run, and says so.
import { builtEntry, ROOT } from './dist.js';

const { entry, stale } = builtEntry(ROOT);
if (stale) process.stderr.write('berth: dist/ is older than src/, running the sources (run `npm run build` to start faster)\n');
await import(entry?.href ?? '../src/cli/main.ts');
