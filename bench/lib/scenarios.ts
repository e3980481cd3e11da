// The measured runs, in the order they are made and printed.
import { CACHED_BODY, CACHED_PATH, LARGE_BODY_BYTES, LARGE_PATH, TINY_BODY } from '../upstream/responses.ts';

/**
 * How a server is started for a group of scenarios; each mode gets a fresh
 * server. The plain modes are the original ones and are started exactly as
 * before (no HTTPS listener, no cache settings); the others add one thing each.
 */
export type Mode = 'static' | 'proxy' | 'https-static' | 'https-proxy' | 'cache';
export const MODES: readonly Mode[] = ['static', 'proxy', 'https-static', 'https-proxy', 'cache'];

/** What a mode serves: the static folder, or the tiny upstream through a proxy. */
export function contentOf(mode: Mode): 'static' | 'proxy' {
  return mode === 'static' || mode === 'https-static' ? 'static' : 'proxy';
}

/** The mode's server also listens for HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with the run's certificate. */
export function usesTls(mode: Mode): boolean {
  return mode === 'https-static' || mode === 'https-proxy';
}

/** The server caches the upstream's cacheable answers (nginx proxy_cache; berth's cache is on by default). */
export function usesCache(mode: Mode): boolean {
  return mode === 'cache';
}

/** The load generator and the protocol it speaks. */
export type Client = 'wrk' | 'h2load';

export type LoadScenarioId =
  | 'static-1k'
  | 'static-100k'
  | 'proxy-tiny'
  | 'proxy-1m'
  | 'https-static-1k'
  | 'h2-static-1k'
  | 'h2-proxy-tiny'
  | 'cache-hit';
export type ScenarioId = LoadScenarioId | 'idle-memory';
export const SCENARIO_IDS: readonly ScenarioId[] = [
  'static-1k',
  'static-100k',
  'proxy-tiny',
  'proxy-1m',
  'https-static-1k',
  'h2-static-1k',
  'h2-proxy-tiny',
  'cache-hit',
  'idle-memory',
];

export interface LoadScenario {
  readonly id: LoadScenarioId;
  readonly title: string;
  readonly mode: Mode;
  readonly path: string;
  readonly bodyBytes: number;
  /** http: the server's plain listener; https: its TLS listener. */
  readonly scheme: 'http' | 'https';
  /** wrk speaks HTTP/1.1 (over TLS for https); h2load speaks HTTP/2 over TLS (ALPN h2). */
  readonly client: Client;
}

/** The files the static runs serve, written to a temp folder at start. */
export const STATIC_FILES: ReadonlyArray<{ readonly name: string; readonly bytes: number }> = [
  { name: '1kib.txt', bytes: 1024 },
  { name: '100kib.txt', bytes: 100 * 1024 },
];

export const LOAD_SCENARIOS: readonly LoadScenario[] = [
  { id: 'static-1k', title: 'static 1 KiB file', mode: 'static', path: '/1kib.txt', bodyBytes: 1024, scheme: 'http', client: 'wrk' },
  { id: 'static-100k', title: 'static 100 KiB file', mode: 'static', path: '/100kib.txt', bodyBytes: 100 * 1024, scheme: 'http', client: 'wrk' },
  { id: 'proxy-tiny', title: 'proxy to a tiny upstream (13-byte body)', mode: 'proxy', path: '/', bodyBytes: TINY_BODY.length, scheme: 'http', client: 'wrk' },
  { id: 'proxy-1m', title: 'proxy of a 1 MiB response', mode: 'proxy', path: LARGE_PATH, bodyBytes: LARGE_BODY_BYTES, scheme: 'http', client: 'wrk' },
  { id: 'https-static-1k', title: 'HTTPS/1.1 static 1 KiB file', mode: 'https-static', path: '/1kib.txt', bodyBytes: 1024, scheme: 'https', client: 'wrk' },
  { id: 'h2-static-1k', title: 'HTTP/2 static 1 KiB file', mode: 'https-static', path: '/1kib.txt', bodyBytes: 1024, scheme: 'https', client: 'h2load' },
  { id: 'h2-proxy-tiny', title: 'HTTP/2 proxy to a tiny upstream (13-byte body)', mode: 'https-proxy', path: '/', bodyBytes: TINY_BODY.length, scheme: 'https', client: 'h2load' },
  { id: 'cache-hit', title: 'proxy cache hit (upstream says public, max-age=3600)', mode: 'cache', path: CACHED_PATH, bodyBytes: CACHED_BODY.length, scheme: 'http', client: 'wrk' },
];

/** The idle keep-alive connections each send one request for this file, then stay open. */
export const IDLE_PATH = '/1kib.txt';
