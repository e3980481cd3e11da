/**
 * What berth does when the reader of its output goes away before it is done
 * (`berth apps list | head -1`): Node reports that as an EPIPE error on
 * the stream, which nobody handled, so berth died with a stack trace.
 *
 * A command that only prints (the remote commands, `berth logs -f`
 * included) has nothing left to do once nobody reads it: it ends at once,
 * quietly, with status 0, as a pipeline whose reader took what it wanted
 * expects. A serving command (`server`, `up`, `file-server`,
 * `reverse-proxy`) keeps serving with its output dropped: losing the reader
 * of its log is no reason to stop the apps.
 */
export function handleClosedOutput(streams: readonly NodeJS.WritableStream[], options: { serving: boolean; exit?: (code: number) => void }): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  for (const stream of streams) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
      if (!options.serving) exit(0);
    });
  }
}
