// Small DOM helpers: elements from plain data (text is always text, never
// parsed as HTML), the status and alert regions, and a confirmation dialog.

/** h('a', { href: '/', class: 'x' }, 'text', child) — attributes by name; `on*` functions become listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let statusTimer;
/** A polite message (what just happened), cleared after a while. */
export function say(text) {
  const status = document.getElementById('status');
  const alert = document.getElementById('alert');
  alert.textContent = '';
  status.textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => (status.textContent = ''), 6000);
}

/** An assertive message (something failed); stays until the next message. */
export function complain(error) {
  document.getElementById('status').textContent = '';
  document.getElementById('alert').textContent = error.hint ? `${error.message}. ${error.hint}` : error.message;
}

/** Asks in a modal dialog; resolves true when confirmed. Focus returns to where it was. */
export function confirmAction(title, text, okLabel) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  const before = document.activeElement;
  dialog.returnValue = 'cancel';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        if (before instanceof HTMLElement) before.focus();
        resolve(dialog.returnValue === 'ok');
      },
      { once: true },
    );
  });
}

/** "3 min ago", with the exact time for a title. */
export function ago(iso) {
  const ms = Date.now() - Date.parse(iso);
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function time(iso) {
  return h('time', { datetime: iso, title: new Date(iso).toLocaleString() }, ago(iso));
}

/** 512 → "512 bytes", 536870912 → "512 MiB": sizes as the CLI shows them. */
export function bytes(value) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let scaled = value;
  let unit = 0;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} bytes`;
  return `${scaled < 10 ? scaled.toFixed(1) : Math.round(scaled)} ${units[unit]}`;
}

/** A status word as a badge; the word itself carries the meaning, colour only repeats it. */
export function badge(word) {
  return h('span', { class: `badge badge-${word.replace(/\s+/g, '-')}` }, word);
}

/** Runs a button's action with the button disabled meanwhile; errors go to the alert region. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    await work();
  } catch (error) {
    complain(error);
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}
