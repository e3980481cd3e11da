// The overview: every app at a glance, its traffic as sparklines, kept live
// by the daemon's samples (one per app every 5 seconds).
import { call, follow } from './api.js';
import { appendSample, latest, MEASURES, sparkline } from './charts.js';
import { badge, fill, h } from './dom.js';

function trafficCell(app, measure) {
  return h('td', { 'data-label': MEASURES[measure].label, class: 'traffic' }, sparkline(app.series, measure), h('span', { class: 'now' }, MEASURES[measure].format(latest(app.series, measure))));
}

/** The cells after the app's name: replaced on every sample, while the name (and its link, perhaps focused) stays. */
function cells(app) {
  return [
    h('td', { 'data-label': 'Status' }, badge(app.status)),
    h('td', { 'data-label': 'Release' }, app.release ?? '–'),
    h('td', { 'data-label': 'Instances' }, app.status === 'static' ? 'static' : `${app.instances.ready} / ${app.instances.expected} ready`),
    trafficCell(app, 'rate'),
    trafficCell(app, 'p95'),
    trafficCell(app, 'errors'),
  ];
}

/** Beside the name, as of the page's load: the newest backup of one of the app's add-ons failed (its page says which and why). */
function backupFlag(app) {
  if (app.backupAlerts.length === 0) return null;
  const kinds = app.backupAlerts.map((alert) => alert.kind).join(', ');
  return h('span', { class: 'badge badge-failed', title: `The newest backup of ${kinds} did not succeed` }, 'backup failed');
}

function row(app) {
  return h('tr', { dataset: { app: app.name } }, h('th', { scope: 'row', 'data-label': 'App' }, h('a', { href: `/apps/${encodeURIComponent(app.name)}` }, app.name), ' ', backupFlag(app)), cells(app));
}

export async function showOverview(main) {
  document.title = 'Apps · berth dashboard';
  const { apps } = await call('GET', '/api/apps');
  const heading = h('h1', {}, 'Apps');
  if (apps.length === 0) {
    fill(main, heading, h('p', { class: 'card empty' }, 'No apps yet. Create one with ', h('code', {}, 'berth apps create NAME'), ' and deploy it with ', h('code', {}, 'berth deploy --app NAME'), '.'));
    return () => {};
  }
  const body = h('tbody', {}, apps.map(row));
  const table = h(
    'table',
    { class: 'apps' },
    h('caption', { class: 'visually-hidden' }, 'Apps with their state and their traffic over the last 30 minutes'),
    h('thead', {}, h('tr', {}, ['App', 'Status', 'Release', 'Instances', 'Requests', 'p95 latency', 'Errors'].map((label) => h('th', { scope: 'col' }, label)))),
    body,
  );
  fill(main, h('div', { class: 'page-head' }, heading, h('p', { class: 'muted' }, `${apps.length} app${apps.length === 1 ? '' : 's'}; traffic updates every 5 seconds.`)), h('div', { class: 'card flush' }, table));

  const byName = new Map(apps.map((app) => [app.name, app]));
  return follow('/api/events', {
    sample: ({ app: name, sample, summary }) => {
      const app = byName.get(name);
      if (app === undefined) return; // a new app: it shows at the next visit
      appendSample(app.series, sample);
      Object.assign(app, summary);
      const tr = body.querySelector(`tr[data-app="${CSS.escape(name)}"]`);
      if (tr !== null) tr.replaceChildren(tr.firstElementChild, ...cells(app));
    },
  });
}
