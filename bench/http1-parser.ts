// Micro-benchmark: parse a typical browser GET (10 header fields) N times
// and print ns/op. Not a test, compared with nothing: it only gives the
// number. Run: npx node bench/http1-parser.ts [iterations-per-round] [rounds]

import { DEFAULT_HTTP1_LIMITS, parseRequestHead } from '../src/edge/http1/index.ts';

const REQUEST = Buffer.from(
  'GET /articles/2024/http-parsing?page=2&sort=new HTTP/1.1\r\n' +
    'Host: www.example.com\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n' +
    'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n' +
    'Accept-Language: en-US,en;q=0.5\r\n' +
    'Accept-Encoding: gzip, deflate, br, zstd\r\n' +
    'Referer: https://www.example.com/articles\r\n' +
    'Connection: keep-alive\r\n' +
    'Cookie: session=4f1c2a9e8b7d6c5e; theme=dark\r\n' +
    'Upgrade-Insecure-Requests: 1\r\n' +
    'Sec-Fetch-Dest: document\r\n' +
    '\r\n',
  'latin1',
);

const n = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 15);
let sink = 0;
const run = (count: number): void => {
  for (let i = 0; i < count; i++) {
    const r = parseRequestHead(REQUEST, 0, DEFAULT_HTTP1_LIMITS);
    if (r.kind !== 'head') throw new Error(`benchmark request refused: ${JSON.stringify(r)}`);
    sink += r.consumed;
  }
};
run(n); // warm-up: let V8 optimise before measuring
// Several rounds, best and median reported: on a shared machine the best
// round is the closest to the parser's own cost.
const perOp: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t0 = process.hrtime.bigint();
  run(n);
  perOp.push(Number(process.hrtime.bigint() - t0) / n);
}
perOp.sort((a, b) => a - b);
const median = perOp[Math.floor(perOp.length / 2)]!;
console.log(
  `parseRequestHead: ${perOp[0]!.toFixed(0)} ns/op best, ${median.toFixed(0)} ns/op median ` +
    `(${REQUEST.length}-byte GET, 10 fields, ${rounds} rounds of ${n})`,
);
if (sink === 0) console.log('unreachable');
