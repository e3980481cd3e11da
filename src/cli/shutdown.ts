/**
 * Waits for SIGINT or SIGTERM, then runs the graceful stop. A second signal
 * while stopping forces the exit, as users expect from a second Ctrl-C.
 */
export function onShutdown(log: (line: string) => void, stop: () => Promise<void>, force: () => void): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        log(`${signal} again: stopping now`);
        force();
        return;
      }
      stopping = true;
      log(`${signal} received: draining and stopping (${signal === 'SIGINT' ? 'Ctrl-C again to force' : 'send again to force'})`);
      stop().then(
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
