// The measured runs, in the order they are made and printed.
import { LARGE_BODY_BYTES, LARGE_PATH, TINY_BODY } from '../upstream/responses.ts';

export type Mode = 'static' | 'proxy';

export type LoadScenarioId = 'static-1k' | 'static-100k' | 'proxy-tiny' | 'proxy-1m';
export type ScenarioId = LoadScenarioId | 'idle-memory';
export const SCENARIO_IDS: readonly ScenarioId[] = ['static-1k', 'static-100k', 'proxy-tiny', 'proxy-1m', 'idle-memory'];

export interface LoadScenario {
  readonly id: LoadScenarioId;
  readonly title: string;
  readonly mode: Mode;
  readonly path: string;
  readonly bodyBytes: number;
}

/** The files the static runs serve, written to a temp folder at start. */
export const STATIC_FILES: ReadonlyArray<{ readonly name: string; readonly bytes: number }> = [
  { name: '1kib.txt', bytes: 1024 },
  { name: '100kib.txt', bytes: 100 * 1024 },
];

export const LOAD_SCENARIOS: readonly LoadScenario[] = [
  { id: 'static-1k', title: 'static 1 KiB file', mode: 'static', path: '/1kib.txt', bodyBytes: 1024 },
  { id: 'static-100k', title: 'static 100 KiB file', mode: 'static', path: '/100kib.txt', bodyBytes: 100 * 1024 },
  { id: 'proxy-tiny', title: 'proxy to a tiny upstream (13-byte body)', mode: 'proxy', path: '/', bodyBytes: TINY_BODY.length },
  { id: 'proxy-1m', title: 'proxy of a 1 MiB response', mode: 'proxy', path: LARGE_PATH, bodyBytes: LARGE_BODY_BYTES },
];

/** The idle keep-alive connections each send one request for this file, then stay open. */
export const IDLE_PATH = '/1kib.txt';
