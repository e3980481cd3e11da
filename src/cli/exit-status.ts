/**
 * Thrown by a command whose exit status is someone else's (`berth run`
 * exits with the remote command's): run() returns it, printing nothing.
 */
export class ExitStatus extends Error {
  readonly status: number;

  constructor(status: number) {
    super(`exit status ${status}`);
    this.name = 'ExitStatus';
    this.status = status;
  }
}
