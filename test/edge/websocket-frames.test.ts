import assert from 'node:assert/strict';
import test from 'node:test';
import { FrameBoundaries, GOING_AWAY_FRAME } from '../../src/edge/engine/websocket-frames.ts';

/** A server frame (unmasked) of `length` payload bytes, or masked as a client's. */
function frame(length: number, masked = false): Buffer {
  const head = length < 126 ? Buffer.from([0x82, length]) : length < 65536 ? Buffer.from([0x82, 126, length >> 8, length & 0xff]) : Buffer.concat([Buffer.from([0x82, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(length)); return b; })()]);
  if (masked) head[1]! |= 0x80;
  return Buffer.concat([head, masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0), Buffer.alloc(length, 7)]);
}

test('boundaries between frames of every length form, however the stream is cut', () => {
  const frames = [frame(0), frame(5), frame(125), frame(126), frame(300), frame(70_000), frame(3, true), GOING_AWAY_FRAME];
  const stream = Buffer.concat(frames);
  const ends = new Set<number>();
  let total = 0;
  for (const f of frames) ends.add((total += f.length));
  for (const size of [1, 2, 3, 7, 64, 1000, stream.length]) {
    const tracker = new FrameBoundaries();
    const seen: number[] = [];
    let position = 0;
    for (let i = 0; i < stream.length; i += size) {
      let chunk = stream.subarray(i, i + size);
      // Stopping at each boundary in turn finds every one, in order.
      while (chunk.length > 0) {
        const n = tracker.consume(chunk, true);
        position += n;
        chunk = chunk.subarray(n);
        if (tracker.atBoundary) seen.push(position);
      }
    }
    assert.deepEqual([...new Set(seen)], [...ends], `chunks of ${size}`);
  }
});

test('without stopping, a chunk is read whole and the boundary is known at its end', () => {
  const tracker = new FrameBoundaries();
  const two = Buffer.concat([frame(10), frame(20)]);
  assert.equal(tracker.consume(two.subarray(0, 15)), 15);
  assert.equal(tracker.atBoundary, false);
  assert.equal(tracker.consume(two.subarray(15)), two.length - 15);
  assert.equal(tracker.atBoundary, true);
  // A header cut after its first byte is not a boundary.
  assert.equal(tracker.consume(Buffer.from([0x81])), 1);
  assert.equal(tracker.atBoundary, false);
});

test('a length the framing cannot hold loses the boundaries for good', () => {
  const tracker = new FrameBoundaries();
  const bad = Buffer.from([0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 1, 9, 9]);
  assert.equal(tracker.consume(bad, true), bad.length);
  assert.equal(tracker.atBoundary, false);
  assert.equal(tracker.consume(frame(1)), 3);
  assert.equal(tracker.atBoundary, false);
});

test('the close frame says 1001, going away', () => {
  assert.deepEqual([...GOING_AWAY_FRAME], [0x88, 2, 0x03, 0xe9]);
  assert.equal(GOING_AWAY_FRAME.readUInt16BE(2), 1001);
});
