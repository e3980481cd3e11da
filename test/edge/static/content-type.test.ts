import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentTypeFor, isCompressible, DEFAULT_CONTENT_TYPE } from '../../../src/edge/static/content-type.ts';

const TYPES: Array<[string, string]> = [
  ['/index.html', 'text/html; charset=utf-8'],
  ['/a.htm', 'text/html; charset=utf-8'],
  ['/a.css', 'text/css; charset=utf-8'],
  ['/a.js', 'text/javascript; charset=utf-8'],
  ['/a.mjs', 'text/javascript; charset=utf-8'],
  ['/a.json', 'application/json; charset=utf-8'],
  ['/a.js.map', 'application/json; charset=utf-8'],
  ['/a.txt', 'text/plain; charset=utf-8'],
  ['/a.xml', 'application/xml; charset=utf-8'],
  ['/feed.rss', 'application/rss+xml; charset=utf-8'],
  ['/a.svg', 'image/svg+xml; charset=utf-8'],
  ['/a.png', 'image/png'],
  ['/a.jpg', 'image/jpeg'],
  ['/a.jpeg', 'image/jpeg'],
  ['/a.gif', 'image/gif'],
  ['/a.webp', 'image/webp'],
  ['/a.avif', 'image/avif'],
  ['/favicon.ico', 'image/x-icon'],
  ['/a.woff', 'font/woff'],
  ['/a.woff2', 'font/woff2'],
  ['/a.ttf', 'font/ttf'],
  ['/a.otf', 'font/otf'],
  ['/a.pdf', 'application/pdf'],
  ['/a.wasm', 'application/wasm'],
  ['/a.mp4', 'video/mp4'],
  ['/a.webm', 'video/webm'],
  ['/a.mp3', 'audio/mpeg'],
  ['/a.ogg', 'audio/ogg'],
  ['/a.wav', 'audio/wav'],
  ['/a.zip', 'application/zip'],
  ['/a.tar.gz', 'application/gzip'],
  ['/a.gz', 'application/gzip'],
  ['/a.csv', 'text/csv; charset=utf-8'],
  ['/README.md', 'text/markdown; charset=utf-8'],
  ['/site.webmanifest', 'application/manifest+json; charset=utf-8'],
  ['/A.PNG', 'image/png'],
  ['/Index.HTML', 'text/html; charset=utf-8'],
  ['/a.JsOn', 'application/json; charset=utf-8'],
  ['/Makefile', DEFAULT_CONTENT_TYPE],
  ['/a.unknownext', DEFAULT_CONTENT_TYPE],
  ['/a.', DEFAULT_CONTENT_TYPE],
  ['/.env', DEFAULT_CONTENT_TYPE],
  ['/dir.css/file', DEFAULT_CONTENT_TYPE],
  ['/dir.css/', DEFAULT_CONTENT_TYPE],
  ['index.html', 'text/html; charset=utf-8'],
  ['/a.exe', 'application/octet-stream'],
];

for (const [name, type] of TYPES) {
  test(`contentTypeFor(${name}) is ${type}`, () => {
    assert.equal(contentTypeFor(name), type);
  });
}

const COMPRESSIBLE: Array<[string, boolean]> = [
  ['text/html; charset=utf-8', true],
  ['text/css', true],
  ['text/javascript; charset=utf-8', true],
  ['application/javascript', true],
  ['application/json; charset=utf-8', true],
  ['application/ld+json', true],
  ['application/manifest+json; charset=utf-8', true],
  ['application/xml', true],
  ['application/rss+xml', true],
  ['image/svg+xml; charset=utf-8', true],
  ['application/wasm', true],
  ['font/ttf', true],
  ['font/otf', true],
  ['TEXT/PLAIN', true],
  ['image/png', false],
  ['image/jpeg', false],
  ['image/webp', false],
  ['image/avif', false],
  ['video/mp4', false],
  ['audio/mpeg', false],
  ['application/zip', false],
  ['application/gzip', false],
  ['font/woff', false],
  ['font/woff2', false],
  ['application/pdf', false],
  ['application/octet-stream', false],
];

for (const [type, expected] of COMPRESSIBLE) {
  test(`isCompressible(${type}) is ${expected}`, () => {
    assert.equal(isCompressible(type), expected);
  });
}

test('every textual type in the table is compressible', () => {
  for (const ext of ['html', 'css', 'js', 'json', 'map', 'txt', 'xml', 'svg', 'csv', 'md', 'webmanifest']) {
    assert.ok(isCompressible(contentTypeFor('/f.' + ext)), ext);
  }
});
