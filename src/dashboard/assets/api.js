// Talking to the daemon: JSON calls with the session's CSRF token on every
// mutation, and Server-Sent Events for what changes by itself.

const csrf = document.querySelector('meta[name="berth-csrf"]')?.getAttribute('content') ?? '';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `the dashboard answered ${status}`);
    this.status = status;
    this.code = body?.code;
    this.hint = body?.hint;
  }
}

/** A JSON call; a session that ended sends the browser back to the login page. */
export async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-berth-csrf'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const json = await res.json().catch(() => null);
  if (res.status === 401) {
    location.assign('/login');
    throw new ApiError(401, json);
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/**
 * Follows an event stream: `handlers` maps event names to functions of the
 * parsed data. EventSource reconnects by itself; when it gives up (the
 * session ended), a call finds out whether to log in again.
 */
export function follow(path, handlers) {
  const source = new EventSource(path);
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
  }
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) call('GET', '/api/apps').catch(() => {});
  });
  return () => source.close();
}

export async function logout() {
  await call('POST', '/logout').catch(() => {});
  location.assign('/login');
}
