#!/usr/bin/env node
// The installed entry point: Node 24 runs the TypeScript sources directly.
import '../src/cli/main.ts';
