/**
 * Waits for SIGINT or SIGTERM, then runs the graceful stop. A second signal
 * while stopping forces the exit, as users expect from a second Ctrl-C.
 */
export function onShutdown(log: (line: string) => void, stop: (signal: NodeJS.Signals) => Promise<void>, force: () => void, describe: (signal: NodeJS.Signals) => string = () => 'draining and stopping'): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        log(`${signal} again: stopping now`);
        force();
        return;
      }
      stopping = true;
      log(`${signal} received: ${describe(signal)} (${signal === 'SIGINT' ? 'Ctrl-C again to force' : 'send again to force'})`);
      stop(signal).then(
        () => {
          process.off('SIGINT', handler);
          process.off('SIGTERM', handler);
          process.off('SIGHUP', handler);
          log('stopped');
          resolve();
        },
        (err: Error) => {
          log(`error while stopping: ${err.message}`);
          force();
        },
      );
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
    process.on('SIGHUP', handler);
  });
}
