import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, exitStatusOf, FRAME, FrameDecoder, MAX_FRAME_BYTES } from '../../src/api/run-frames.ts';

test('frames come out whole and in order however the bytes are cut', () => {
  const frames = [encodeFrame(FRAME.started, '{"name":"run.1"}'), encodeFrame(FRAME.stdout, Buffer.from([0, 1, 2, 255])), encodeFrame(FRAME.stdinEnd), encodeFrame(FRAME.exit, '{"code":0,"signal":null}')];
  const bytes = Buffer.concat(frames);
  for (let cut = 1; cut <= bytes.length; cut++) {
    const decoder = new FrameDecoder();
    const seen = [];
    for (let at = 0; at < bytes.length; at += cut) seen.push(...decoder.push(bytes.subarray(at, at + cut)));
    assert.deepEqual(
      seen.map((f) => [f.type, f.payload.toString('hex')]),
      [
        [FRAME.started, Buffer.from('{"name":"run.1"}').toString('hex')],
        [FRAME.stdout, '000102ff'],
        [FRAME.stdinEnd, ''],
        [FRAME.exit, Buffer.from('{"code":0,"signal":null}').toString('hex')],
      ],
      `cut every ${cut} bytes`,
    );
    assert.equal(decoder.buffered, 0);
  }
});

test('a frame announcing more than the limit is refused before its bytes are buffered', () => {
  const header = Buffer.alloc(5);
  header[0] = FRAME.stdin;
  header.writeUInt32BE(MAX_FRAME_BYTES + 1, 1);
  assert.throws(() => new FrameDecoder().push(header), /over the limit/);
  const atLimit = Buffer.alloc(5);
  atLimit.writeUInt32BE(MAX_FRAME_BYTES, 1);
  assert.deepEqual(new FrameDecoder().push(atLimit), []);
});

test('the exit status is the code, or 128 + the signal number as a shell says it', () => {
  const numbers: Record<string, number> = { SIGINT: 2, SIGKILL: 9 };
  const number = (name: string) => numbers[name];
  assert.equal(exitStatusOf({ code: 0, signal: null }, number), 0);
  assert.equal(exitStatusOf({ code: 7, signal: null }, number), 7);
  assert.equal(exitStatusOf({ code: null, signal: 'SIGINT' }, number), 130);
  assert.equal(exitStatusOf({ code: null, signal: 'SIGKILL' }, number), 137);
  assert.equal(exitStatusOf({ code: null, signal: 'SIGWHAT' }, number), 1);
  assert.equal(exitStatusOf({ code: null, signal: null }, number), 1);
});
