// Every error berth reports on purpose is a BerthError: a stable code that
// scripts and tests can match, a message that says what happened, and a hint
// that says what the user should do. Codes are documented in docs/ERRORS.md
// and a test fails if one is missing there.

export const ERROR_CODES = {
  BERTH_E_USAGE: 'a command was called with missing or invalid arguments',
  BERTH_E_APP_UNDETECTED: 'the app folder has nothing berth knows how to run',
  BERTH_E_APP_DIR: 'the app folder does not exist or is not a folder',
  BERTH_E_PROCFILE: 'the Procfile could not be parsed',
  BERTH_E_APP_CONFIG: 'berth.toml could not be parsed or failed validation',
  BERTH_E_APP_FILE: 'a file berth reads from the app is a link leading outside it, not a regular file, a hard link, or too large',
  BERTH_E_INSTALL: 'installing the app dependencies failed',
  BERTH_E_LISTEN: 'a listener could not be opened',
  BERTH_E_ADDRESS: 'a host:port address is malformed',
  BERTH_E_STATIC_ROOT: 'a static root does not exist, is not a folder, or leads out of its release',
  BERTH_E_NOT_READY: 'no instance became ready in time',
  BERTH_E_NOTHING_TO_DEPLOY: 'the app folder or upload holds no files once ignored ones are left out',
  BERTH_E_SOURCE_FILE: 'the app folder holds a link leading outside it, or a socket, FIFO or device',
  BERTH_E_ARCHIVE: 'an upload is not a gzip tarball berth can unpack safely',
  BERTH_E_ARCHIVE_TOO_LARGE: 'an upload is over a size or entry-count limit',
  BERTH_E_UNAUTHORIZED: 'an API call had no valid bearer token',
  BERTH_E_NOT_FOUND: 'an API route does not exist',
  BERTH_E_METHOD: 'an API route does not accept this method',
  BERTH_E_BAD_JSON: 'an API request body is not valid JSON',
  BERTH_E_TOO_LARGE: 'an API request body or upload is larger than allowed',
  BERTH_E_INTERNAL: 'the daemon failed unexpectedly; its log has the details',
  BERTH_E_RELEASE_FAILED: 'a new release did not become ready; the previous one keeps serving',
  // The platform (src/platform/): names, state, releases, tokens.
  BERTH_E_NAME: 'a name (app, config var, process type, token, hostname, branch, release) is malformed',
  BERTH_E_CONFIG_VALUE: 'a config var value cannot be used as an environment variable',
  BERTH_E_APP_EXISTS: 'an app with that name already exists',
  BERTH_E_APP_NOT_FOUND: 'no app has that name',
  BERTH_E_BUILD_NOT_FOUND: 'no build of that app has that id',
  BERTH_E_RELEASE_NOT_FOUND: 'the app has no release with that version',
  BERTH_E_RELEASE_STATE: 'the release is not in a state that allows the change',
  BERTH_E_ROLLBACK: 'there is nothing to roll back to, or the named release cannot be rolled back to',
  BERTH_E_SCALE: 'a process quantity is out of range',
  BERTH_E_PROCESS_TYPE_NOT_FOUND: 'the current release has no such process type',
  BERTH_E_DOMAIN_TAKEN: 'the hostname already belongs to another app',
  BERTH_E_DOMAIN_NOT_FOUND: 'the app has no such domain',
  BERTH_E_TOKEN_EXISTS: 'a token with that name exists (or existed: names are not reused)',
  BERTH_E_TOKEN_NOT_FOUND: 'no token has that name',
  BERTH_E_LAST_ADMIN_TOKEN: 'revoking this token would leave no admin token, locking everyone out',
  BERTH_E_KEY_EXISTS: 'an SSH key with that name exists (or existed), or the key is registered under another name',
  BERTH_E_KEY_NOT_FOUND: 'no SSH key has that name',
  // Git push (src/git/): repositories, pushes, SSH keys.
  BERTH_E_GIT_REPO: 'a git repository path does not name an app (NAME.git)',
  BERTH_E_GIT_SERVICE: 'a git client asked for something berth does not serve (dumb HTTP, an unknown service)',
  BERTH_E_PUSH_REFUSED: 'a git push changes something other than the app\'s deploy branch, deletes it, or was made against an older state of it',
  BERTH_E_SSH_KEY: 'a public key is malformed, of an unsupported type or too weak, or is a private key',
  BERTH_E_BUILD_LIMIT: 'a build ran out of its time or memory limit',
  BERTH_E_APP_USER: "an app's Unix user cannot be created, found or removed",
  BERTH_E_APP_BUSY: "processes of an app's Unix user could not be ended, so the app was not destroyed",
  BERTH_E_STATE_LOCKED: 'another berth server is running on the state folder',
  BERTH_E_NOT_RUNNING: 'no berth server runs on the state folder (berth server stop)',
  BERTH_E_STOP_TIMEOUT: 'the berth server did not exit in time after berth server stop',
  BERTH_E_STOPPING: 'the server is stopping and starts no new change',
  BERTH_E_EDGE_PROCESS: 'the edge process (which serves the apps apart from the daemon) could not be started, reached or configured',
  BERTH_E_STATE: 'the state directory or database cannot be used',
  BERTH_E_SOURCE_CHANGED: 'a file in the app folder changed while it was being packed',
  // The remote commands of the CLI (src/cli/remote/): credentials and the connection to the daemon.
  BERTH_E_NOT_LOGGED_IN: 'no berth server or API token is known for the command: none saved by berth login, none in BERTH_SERVER / BERTH_TOKEN, or none for the server it names',
  BERTH_E_CREDENTIALS: 'the saved credentials file cannot be read, parsed or written',
  BERTH_E_UNREACHABLE: 'the berth server cannot be reached at its URL',
  BERTH_E_CONNECTION_LOST: 'the connection to the berth server ended before its answer was complete',
  BERTH_E_BAD_RESPONSE: 'the server answered with something that is not a berth API answer',
  // berth server as a systemd service (src/cli/service/).
  BERTH_E_NO_SYSTEMD: 'berth server install or uninstall ran where systemd does not run the machine',
  BERTH_E_SERVICE: "the service's unit could not be read, written or removed, is not berth's, or systemctl failed",
  // Cron (berth.toml [cron]).
  BERTH_E_CRON_SCHEDULE: 'a cron schedule or its time zone is not valid',
  // Certificates (src/tls/): the local CA and ACME.
  BERTH_E_CERTIFICATE: 'a stored certificate or key cannot be read, or does not fit its name or its key',
  BERTH_E_ACME: 'an ACME order failed: the CA could not be reached, refused the order, or the challenge failed',
  BERTH_E_TLS_CERT: 'the certificate or key given with --tls-cert/--tls-key cannot be read or do not belong together',
  BERTH_E_HTTPS_OFF: 'the server serves no HTTPS, so it has no certificates or local CA to show',
  BERTH_E_ACME_CONFIG: 'the ACME settings cannot be used: a directory URL that is not https, a CA bundle without certificates, a malformed email',
  BERTH_E_OCSP: 'an OCSP response for stapling could not be had: no answer, a responder error, a bad signature, or a status other than good',
  // Log drains (src/platform/log-drains.ts).
  BERTH_E_DRAIN_URL: 'a log drain URL is malformed or of a kind berth cannot send to (syslog://, syslog+tls://, https://)',
  BERTH_E_DRAIN_EXISTS: 'the app already has a log drain with that URL',
  BERTH_E_DRAIN_NOT_FOUND: 'the app has no log drain with that id',
  // The dashboard (src/dashboard/).
  BERTH_E_CSRF: 'a dashboard request that changes something lacked its session\'s CSRF token or came from another site',
  // Add-ons, storage and backups (src/addons/).
  BERTH_E_ADDON_KIND: 'an add-on kind berth does not provide (postgres, redis, sqlite)',
  BERTH_E_ADDON_EXISTS: 'the app already has an add-on of that kind, or already has storage',
  BERTH_E_ADDON_NOT_FOUND: 'the app has no add-on of that kind, or no storage',
  BERTH_E_ADDON_SERVER: 'the PostgreSQL or Redis server berth manages cannot be reached, started, or used with the rights berth needs',
  BERTH_E_ADDON_INSECURE: 'the Redis server lets clients in without a password, so apps could read each other\'s keys',
  BERTH_E_ADDON_TOOL: 'a program an add-on needs (pg_dump, redis-server, …) is missing or failed',
  BERTH_E_CONFIRM: 'a destructive command was not confirmed with --confirm NAME',
  BERTH_E_BACKUP_NOT_FOUND: 'no backup has that id',
  BERTH_E_BACKUP_RUNNING: 'a backup or restore of that add-on is already running',
  BERTH_E_BACKUP_FAILED: 'a backup could not be made; nothing was kept as good',
  BERTH_E_BACKUP_CORRUPT: 'a backup file is missing, or its checksum does not match what was recorded',
  BERTH_E_RESTORE_FAILED: 'a restore could not load the backup',
  // The sandbox (src/sandbox/): what contains an app when berth runs as root.
  BERTH_E_SANDBOX: "an app's process could not be started in its sandbox, or the machine cannot make sandboxes",
  BERTH_E_SANDBOX_TOOL: 'a program the sandbox needs (bwrap, slirp4netns, nft, ip, nsenter, unshare) is not installed',
  BERTH_E_SANDBOX_NETWORK: "an app's network could not be made, found or taken down",
  BERTH_E_CGROUP: 'a control group of a sandbox could not be made, limited, joined, emptied or removed',
  BERTH_E_DISK: "an app's folders could not be measured",
  BERTH_E_PYTHON_VERSION: 'the Python an app asks for (.python-version, runtime.txt) is not one berth can use',
  BERTH_E_ADDON_VAR_TAKEN: 'a new add-on would replace a variable another add-on of the app set',
  BERTH_E_DISK_LIMIT: 'the app is, or with this build would be, over its disk limit',
  // app.json (src/build/app-json.ts).
  BERTH_E_APP_JSON: 'app.json could not be parsed, failed validation, or contradicts berth.toml',
  BERTH_E_CONFIG_REQUIRED: 'app.json requires config vars the app does not have',
  BERTH_E_PREDEPLOY_FAILED: "app.json's predeploy script failed, so the release was not activated",
  // OCI images and registries (src/oci/).
  BERTH_E_IMAGE_SOURCE: 'a release holds something an image cannot carry: a socket, FIFO or device, a file of another owner, a whiteout or non-UTF-8 name, or a file that changed while it was read',
  BERTH_E_IMAGE_TOO_LARGE: "a release is over the image's size, entry-count, depth or path-length limit",
  BERTH_E_IMAGE_REFERENCE: 'an image reference, repository, tag or digest is malformed',
  BERTH_E_IMAGE_FORMAT: 'a manifest, index or image config is not one berth can use',
  BERTH_E_IMAGE_PLATFORM: 'the base image has no image for the platform asked for',
  BERTH_E_DIGEST_MISMATCH: 'content from a registry or the layer cache does not match its digest',
  BERTH_E_REGISTRY: 'a registry refused a request or answered with an error',
  BERTH_E_REGISTRY_AUTH: 'a registry refused the credentials, or wants credentials none were given for',
  BERTH_E_REGISTRY_UNREACHABLE: 'a registry could not be reached: connection, TLS or timeout',
  BERTH_E_LAYER_CACHE: 'the layer cache folder cannot be used',
  BERTH_E_BASE_LAYER: "a base image's layers cannot be unpacked safely: a path out of the root, a hard link to nothing, an unknown entry type, over the limits",
  BERTH_E_BUILD_ROOT: 'a build inside a base image cannot run: no sandbox, or the base lacks what the build needs',
  // One-off runs (berth run).
  BERTH_E_NO_RELEASE: 'the app has no release yet, so there is nothing to run a command in',
  BERTH_E_RUN_LIMIT: 'the app has as many one-off runs going as it may have at once',
  BERTH_E_RUN_NOT_FOUND: 'the app has no one-off run of that name going',
  // Kubernetes (src/kubernetes/client/): the cluster berth runs apps on.
  BERTH_E_KUBE_CONFIG: 'the kubeconfig cannot be read or used: missing context, cluster or user, an exec plugin or auth provider, unreadable files',
  BERTH_E_KUBE_UNREACHABLE: 'the Kubernetes API server could not be reached: connection, TLS or timeout',
  BERTH_E_KUBE_UNAUTHORIZED: 'the Kubernetes API server refused the credentials (401)',
  BERTH_E_KUBE_FORBIDDEN: "berth's account lacks an RBAC permission it needs on the cluster (403)",
  BERTH_E_KUBE_INVALID: 'the Kubernetes API server refused an object as invalid; nothing of the set was applied',
  BERTH_E_KUBE_CONFLICT: 'the Kubernetes API server refused a change because of a conflict (409)',
  BERTH_E_KUBE_UNSUPPORTED: 'the cluster does not serve the kind or API version an object uses, or berth does not do this when apps run on Kubernetes',
  BERTH_E_KUBE_API: 'the Kubernetes API server answered with an error berth has no better code for',
  BERTH_E_KUBE_ROLLOUT_FAILED: 'a Deployment did not finish rolling out: its progress deadline passed or berth stopped waiting',
  BERTH_E_KUBE_JOB_FAILED: 'a Job failed (its pods failed up to the backoff limit, or its deadline passed) or did not finish in time',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options: { hint?: string; status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BerthError';
    this.code = code;
    this.hint = options.hint;
    this.status = options.status ?? 400;
  }
}

export function isBerthError(err: unknown): err is BerthError {
  return err instanceof BerthError;
}
