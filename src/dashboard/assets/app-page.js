// One app: its traffic over the last hour (live), releases with rollback,
// scale, instances with restart, config vars (hidden until revealed),
// domains with their certificates, deploys with their build logs, add-ons
// with their backups (a failed one never quiet), and the live log tail.
import { call, follow } from './api.js';
import { appendSample, latest, MEASURES, timeChart } from './charts.js';
import { badge, busy, bytes, complain, confirmAction, fill, h, say, time } from './dom.js';

const MAX_LOG_LINES = 500;

function section(id, title, ...children) {
  return h('section', { class: 'card', 'aria-labelledby': `${id}-title`, id }, h('h2', { id: `${id}-title`, tabindex: '-1' }, title), ...children);
}

function tableOf(caption, headers, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', {}, h('caption', { class: 'visually-hidden' }, caption), h('thead', {}, h('tr', {}, headers.map((label) => h('th', { scope: 'col' }, label)))), h('tbody', {}, rows)),
  );
}

function certificateText(certificate) {
  if (certificate === null) return 'HTTP only (the server has no --https)';
  if (certificate.source === 'none') return 'none';
  const who = certificate.source === 'local-ca' ? "berth's local CA" : 'ACME';
  const parts = [`${certificate.state} (${who})`];
  if (certificate.renewAt) parts.push(`renews ${new Date(certificate.renewAt).toLocaleDateString()}`);
  else if (certificate.notAfter) parts.push(`until ${new Date(certificate.notAfter).toLocaleDateString()}`);
  if (certificate.error) parts.push(`error: ${certificate.error}`);
  if (certificate.nextAttempt) parts.push(`next attempt ${new Date(certificate.nextAttempt).toLocaleTimeString()}`);
  return parts.join(' · ');
}

function sizeText(bytes) {
  if (bytes === null || bytes === undefined) return '–';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** What went wrong with a backup, in words (never by colour alone); null when nothing did. */
function backupProblem(backup) {
  if (backup.status === 'failed') return backup.error ?? 'no reason was recorded';
  if (backup.status === 'interrupted') return backup.error ?? 'the daemon stopped while it ran';
  if (backup.missing) return 'its file is gone from the disk';
  return null;
}

const ALERT_WORDS = { failed: 'failed', interrupted: 'was interrupted', missing: 'lost its file' };

function logText(line) {
  const at = new Date(line.at).toLocaleTimeString([], { hour12: false });
  return `${at} ${line.source} | ${line.text}\n`;
}

export async function showApp(main, name) {
  const base = `/api/apps/${encodeURIComponent(name)}`;
  let detail = await call('GET', base);
  document.title = `${name} · berth dashboard`;
  const series = detail.series;

  // ---- the page's parts, filled below and again when they change ----------
  const head = h('div', { class: 'page-head' });
  const stat = (measure) => h('dd', { id: `${measure}-now` }, MEASURES[measure].format(latest(series, measure)));
  const stats = { rate: stat('rate'), p95: stat('p95'), errors: stat('errors') };
  const chartBoxes = { rate: h('div', { class: 'chart' }), p95: h('div', { class: 'chart' }), errors: h('div', { class: 'chart' }) };
  const traffic = section(
    'traffic',
    'Traffic, last hour',
    h('dl', { class: 'stats' }, Object.keys(stats).map((m) => h('div', { class: 'stat' }, h('dt', {}, MEASURES[m].label), stats[m]))),
    h(
      'div',
      { class: 'charts' },
      Object.keys(chartBoxes).map((m) => h('figure', { 'aria-label': `${MEASURES[m].label}, one point every 5 seconds` }, h('figcaption', {}, MEASURES[m].label), chartBoxes[m])),
    ),
  );
  const releases = section('releases', 'Releases');
  const scale = section('scale', 'Scale');
  const instances = section('instances', 'Instances');
  const config = section('config', 'Config vars');
  const domains = section('domains', 'Domains');
  const deploys = section('deploys', 'Deploy history');
  const backups = detail.backups === null ? null : section('backups', 'Add-ons and backups');
  /** Add-ons being backed up from this page: their buttons stay busy through re-renders. */
  const backingUp = new Set();
  const logBox = h('pre', { class: 'log', role: 'log', 'aria-live': 'off', 'aria-label': `Log of ${name}`, tabindex: '0' });
  let paused = false;
  const pause = h('button', {
    type: 'button',
    class: 'quiet',
    'aria-pressed': 'false',
    onclick: () => {
      paused = !paused;
      pause.setAttribute('aria-pressed', String(paused));
      pause.textContent = paused ? 'Resume' : 'Pause';
    },
  }, 'Pause');
  const logs = section('logs', 'Live log', h('div', { class: 'section-actions' }, h('p', { class: 'muted small' }, 'Instances, builds and deploys, as they happen.'), pause), logBox);

  fill(
    main,
    h('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, h('a', { href: '/' }, 'Apps'), ' / ', h('span', { 'aria-current': 'page' }, name)),
    head,
    traffic,
    h('div', { class: 'grid' }, releases, scale, instances, config, domains, deploys),
    backups,
    logs,
  );

  // ---- rendering ------------------------------------------------------------
  const refresh = async () => {
    detail = await call('GET', base);
    render();
  };
  /** A mutation from a button: the page is refreshed after it, and focus, if its button went with the old rows, moves to the section's heading. */
  const act = (button, work) =>
    busy(button, async () => {
      const home = button.closest('section');
      try {
        await work();
        await refresh();
      } finally {
        if (!button.isConnected) home?.querySelector('h2')?.focus();
      }
    });

  const rendered = {};
  /** Re-renders a part only when its data changed, so focus and open details survive the 5-second refreshes. */
  const once = (key, data, draw) => {
    const json = JSON.stringify(data);
    if (rendered[key] === json) return;
    rendered[key] = json;
    draw();
  };

  function renderHead() {
    const app = detail.app;
    const alerts = detail.backups?.alerts ?? [];
    fill(
      head,
      h('h1', {}, app.name, ' ', badge(app.status)),
      h(
        'p',
        { class: 'muted' },
        app.release === null ? 'Not deployed yet. ' : [h('strong', {}, app.release), ` serving: ${app.releaseDescription} · `],
        h('a', { href: app.url, rel: 'noreferrer' }, app.url),
      ),
      alerts.length === 0 ? null : h('p', { class: 'head-alert' }, h('span', { 'aria-hidden': 'true' }, '⚠ '), h('a', { href: '#backups' }, `Backup trouble: ${alerts.map((a) => `${a.kind} ${ALERT_WORDS[a.problem]}`).join(', ')}`)),
    );
  }

  function renderReleases() {
    const rows = detail.releases.map((release) => {
      let action = '';
      if (release.current) action = h('span', { class: 'muted' }, 'serving');
      else if (release.status === 'succeeded') {
        const button = h('button', { type: 'button', class: 'small', 'aria-label': `Roll back to ${release.name}` }, 'Roll back');
        button.addEventListener('click', async () => {
          if (!(await confirmAction(`Roll back ${name} to ${release.name}?`, `${release.name}'s code and config serve again, as a new release. Nothing is rebuilt.`, 'Roll back'))) return;
          await act(button, async () => {
            const answer = await call('POST', `${base}/rollback`, { version: release.name });
            say(`${answer.release.name} is serving: ${answer.release.description}.`);
          });
        });
        action = button;
      }
      return h(
        'tr',
        { class: release.current ? 'current' : null, dataset: { version: release.name } },
        h('th', { scope: 'row' }, release.name, release.current ? h('span', { class: 'visually-hidden' }, ' (current)') : ''),
        h('td', {}, release.kind),
        h('td', {}, release.description),
        h('td', {}, time(release.createdAt)),
        h('td', {}, badge(release.status)),
        h('td', {}, action),
      );
    });
    fill(releases, releases.firstElementChild, rows.length === 0 ? h('p', { class: 'muted' }, 'No releases yet.') : tableOf(`Releases of ${name}, newest first`, ['Version', 'Kind', 'Description', 'Created', 'Status', 'Action'], rows));
  }

  function renderScale() {
    const types = Object.entries(detail.formation);
    if (types.length === 0) {
      fill(scale, scale.firstElementChild, h('p', { class: 'muted' }, detail.app.status === 'static' ? 'A static site: the edge serves its files, no process runs.' : 'Nothing to scale until the first deploy.'));
      return;
    }
    const inputs = types.map(([type, count]) => h('input', { id: `scale-${type}`, name: type, type: 'number', min: '0', max: '64', step: '1', value: String(count), inputmode: 'numeric', required: true }));
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Apply scale');
    const form = h(
      'form',
      { class: 'scale-form' },
      h('fieldset', {}, h('legend', {}, 'Instances per process type'), types.map(([type], i) => h('div', { class: 'field' }, h('label', { for: `scale-${type}` }, type), inputs[i]))),
      submit,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const quantities = Object.fromEntries(inputs.map((input) => [input.name, Number(input.value)]));
      void act(submit, async () => {
        const answer = await call('PUT', `${base}/formation`, quantities);
        say(`Scaled ${name}: ${Object.entries(answer.formation).map(([t, n]) => `${t}=${n}`).join(', ')}.`);
        delete rendered.scale;
      });
    });
    fill(scale, scale.firstElementChild, form);
  }

  function renderInstances() {
    const restart = h('button', { type: 'button' }, 'Restart all instances');
    restart.addEventListener('click', async () => {
      if (!(await confirmAction(`Restart ${name}?`, 'New instances start beside the old ones and take traffic once ready; then the old ones drain.', 'Restart'))) return;
      await act(restart, async () => {
        await call('POST', `${base}/restart`);
        say(`${name} restarted.`);
      });
    });
    // Memory beside its limit; the last unasked exit in words ("out of memory: web.1 used 512 MiB, its limit").
    const memory = (i) => (i.memory ? (i.memory.limitBytes === null ? bytes(i.memory.usedBytes) : `${bytes(i.memory.usedBytes)} / ${bytes(i.memory.limitBytes)}`) : '–');
    const rows = detail.instances.map((i) =>
      h('tr', {}, h('th', { scope: 'row' }, i.name), h('td', {}, badge(i.state)), h('td', {}, i.pid ?? '–'), h('td', {}, i.port ?? '–'), h('td', {}, i.release ?? '–'), h('td', {}, memory(i)), h('td', { class: i.lastExit?.startsWith('out of memory') ? 'warning' : '' }, i.lastExit ?? '–')),
    );
    const disk = detail.disk;
    const diskLine =
      disk === undefined || disk.usedBytes === null
        ? null
        : h(
            'p',
            { class: disk.overLimit ? 'warning' : 'muted small' },
            `Disk: ${bytes(disk.usedBytes)}${disk.limitBytes === null ? '' : ` of ${bytes(disk.limitBytes)}`}`,
            ` (${Object.entries(disk.parts ?? {}).filter(([, b]) => b > 0).sort((a, b) => b[1] - a[1]).map(([part, b]) => `${part} ${bytes(b)}`).join(', ')})`,
            disk.overLimit ? ' — over its limit: its instances are stopped until it is under.' : '',
          );
    fill(
      instances,
      instances.firstElementChild,
      rows.length === 0 ? h('p', { class: 'muted' }, 'No instances run.') : tableOf(`Instances of ${name}`, ['Instance', 'State', 'PID', 'Port', 'Release', 'Memory', 'Last exit'], rows),
      diskLine,
      detail.app.release === null || detail.instances.length === 0 ? null : h('div', { class: 'section-actions' }, restart),
    );
  }

  function renderConfig() {
    const rows = detail.config.map((key) => {
      const value = h('td', { class: 'secret' }, h('span', { 'aria-hidden': 'true' }, '••••••••'), h('span', { class: 'visually-hidden' }, 'hidden'));
      const button = h('button', { type: 'button', class: 'small', 'aria-label': `Reveal ${key}`, 'aria-pressed': 'false' }, 'Reveal');
      button.addEventListener('click', () =>
        busy(button, async () => {
          if (button.getAttribute('aria-pressed') === 'true') {
            fill(value, h('span', { 'aria-hidden': 'true' }, '••••••••'), h('span', { class: 'visually-hidden' }, 'hidden'));
            button.setAttribute('aria-pressed', 'false');
            button.setAttribute('aria-label', `Reveal ${key}`);
            button.textContent = 'Reveal';
            return;
          }
          const answer = await call('GET', `${base}/config/${encodeURIComponent(key)}`);
          fill(value, h('code', {}, answer.value));
          button.setAttribute('aria-pressed', 'true');
          button.setAttribute('aria-label', `Hide ${key}`);
          button.textContent = 'Hide';
        }),
      );
      return h('tr', { dataset: { key } }, h('th', { scope: 'row' }, h('code', {}, key)), value, h('td', {}, button));
    });
    fill(
      config,
      config.firstElementChild,
      rows.length === 0 ? h('p', { class: 'muted' }, 'No config vars. Set some with ', h('code', {}, `berth config set KEY=VALUE --app ${name}`), '.') : tableOf(`Config vars of ${name}; values hidden until revealed`, ['Key', 'Value', 'Action'], rows),
    );
  }

  function renderDomains() {
    const rows = detail.domains.map((d) => h('tr', {}, h('th', { scope: 'row' }, d.display, d.own ? h('span', { class: 'muted small' }, ' (own)') : ''), h('td', {}, certificateText(d.certificate))));
    fill(domains, domains.firstElementChild, tableOf(`Domains of ${name}`, ['Hostname', 'Certificate'], rows));
  }

  function renderDeploys() {
    const items = detail.deploys.map((deploy) => {
      const pre = h('pre', { class: 'log build-log', tabindex: '0' }, 'Loading…');
      const details = h('details', {}, h('summary', {}, 'Build log'), pre);
      details.addEventListener('toggle', async () => {
        if (!details.open || details.dataset.loaded) return;
        details.dataset.loaded = '1';
        try {
          const { lines } = await call('GET', `${base}/builds/${deploy.id}/log`);
          pre.textContent = lines.length === 0 ? '(no lines kept)' : lines.map(logText).join('');
        } catch (error) {
          pre.textContent = `Cannot load the build log: ${error.message}`;
        }
      });
      return h(
        'li',
        {},
        h('div', { class: 'deploy-line' }, h('strong', {}, deploy.release?.name ?? `build ${deploy.id}`), ' ', badge(deploy.release?.status ?? deploy.status), ' ', h('span', { class: 'muted' }, `source ${deploy.source} · `, time(deploy.createdAt))),
        deploy.release ? h('p', { class: 'small' }, deploy.release.description) : null,
        details,
      );
    });
    fill(deploys, deploys.firstElementChild, items.length === 0 ? h('p', { class: 'muted' }, 'No deploys yet.') : h('ol', { class: 'deploys' }, items));
  }

  /** Runs one backup now; the button says so meanwhile, the outcome goes to the status or alert region, and the list is refreshed either way. */
  async function backUp(kind) {
    if (backingUp.has(kind)) return;
    backingUp.add(kind);
    render();
    say(`Backing up the ${kind} add-on of ${name}…`);
    try {
      const answer = await call('POST', `${base}/backups`, { addon: kind });
      say(`Backup #${answer.backup.id} of ${kind} is good (${sizeText(answer.backup.bytes)}).`);
    } catch (error) {
      complain(error);
    } finally {
      backingUp.delete(kind);
      await refresh().catch(() => render());
    }
  }

  function addonItem(addon) {
    const fact = (label, ...value) => [h('dt', {}, label), h('dd', {}, ...value)];
    const running = backingUp.has(addon.kind);
    // aria-disabled rather than disabled: the button keeps its focus while it is busy.
    const button = addon.backedUp
      ? h('button', { type: 'button', class: 'small', dataset: { kind: addon.kind }, 'aria-label': `Back up now (${addon.kind})`, 'aria-disabled': running ? 'true' : null, 'aria-busy': running ? 'true' : null, onclick: () => void backUp(addon.kind) }, running ? 'Backing up…' : 'Back up now')
      : null;
    const schedule = addon.schedule;
    const last = addon.lastBackup;
    return h(
      'li',
      { class: 'addon', dataset: { kind: addon.kind } },
      h('div', { class: 'addon-head' }, h('h3', {}, addon.kind), button),
      h(
        'dl',
        { class: 'facts' },
        fact('Vars', addon.vars.flatMap((key, i) => [i === 0 ? '' : ', ', h('code', {}, key)])),
        Object.entries(addon.details).map(([key, value]) => fact(key, h('code', {}, value))),
        addon.backedUp
          ? fact(
              'Schedule',
              schedule === null
                ? [h('span', { class: 'muted' }, 'none: '), h('code', {}, `berth backups schedule --app ${name} --addon ${addon.kind} --cron "0 3 * * *"`)]
                : [h('code', {}, schedule.cron), ` (${schedule.timezone}), keeps ${schedule.keep}`, schedule.nextRun === null ? '' : [', next ', h('time', { datetime: schedule.nextRun }, new Date(schedule.nextRun).toLocaleString())]],
            )
          : null,
        addon.backedUp ? fact('Last backup', last === null ? h('span', { class: 'muted' }, 'none yet') : [`#${last.id} `, badge(last.status), ' ', time(last.startedAt)]) : null,
      ),
    );
  }

  function backupRows(backup) {
    const problem = backupProblem(backup);
    const bad = backup.status === 'failed' || backup.status === 'interrupted';
    const row = h(
      'tr',
      { class: bad ? 'backup-bad' : problem !== null ? 'backup-warn' : null, dataset: { backup: String(backup.id) } },
      h('th', { scope: 'row', 'data-label': 'Backup' }, `#${backup.id}`),
      h('td', { 'data-label': 'Add-on' }, backup.kind),
      h('td', { 'data-label': 'Trigger' }, backup.trigger),
      h('td', { 'data-label': 'Status' }, badge(backup.status)),
      h('td', { 'data-label': 'Started' }, time(backup.startedAt)),
      h('td', { 'data-label': 'Size' }, sizeText(backup.bytes)),
    );
    const notes = [];
    if (problem !== null) notes.push(h('span', { 'aria-hidden': 'true' }, '⚠ '), h('strong', {}, bad ? `Backup #${backup.id} ${backup.status}: ` : `Backup #${backup.id}: `), problem);
    else if (backup.copyError) notes.push(h('strong', {}, `Backup #${backup.id} is good, but its copy failed: `), backup.copyError);
    if (notes.length === 0) return row;
    return [row, h('tr', { class: bad ? 'backup-reason backup-bad' : 'backup-reason backup-warn', dataset: { reasonOf: String(backup.id) } }, h('td', { colspan: '6' }, notes))];
  }

  /** On a phone its rows become cards (style.css), so that a failure's reason is read without scrolling sideways. */
  function backupTable(list) {
    const table = tableOf(`Backups of ${name}, newest first`, ['Backup', 'Add-on', 'Trigger', 'Status', 'Started', 'Size'], list.map(backupRows));
    table.classList.add('backup-list');
    return table;
  }

  function renderBackups() {
    const panel = detail.backups;
    if (backups === null || panel === null) return;
    // A re-render replaces the buttons: the one that had focus gets it back.
    const focused = backups.contains(document.activeElement) ? document.activeElement?.dataset?.kind : undefined;
    const alertText = (a) => [`The newest ${a.kind} backup (#${a.id}, `, time(a.startedAt), `) ${ALERT_WORDS[a.problem]}`, a.error ? `: ${a.error}` : '.'];
    fill(
      backups,
      backups.firstElementChild,
      panel.alerts.length === 0
        ? null
        : h(
            'div',
            { class: 'banner', id: 'backup-alert' },
            h('p', {}, h('span', { 'aria-hidden': 'true' }, '⚠ '), h('strong', {}, 'Warning: backups are failing.'), ' Until a backup succeeds, the latest data is not safe.'),
            h('ul', {}, panel.alerts.map((a) => h('li', {}, alertText(a)))),
          ),
      panel.addons.length === 0
        ? h('p', { class: 'muted' }, 'No add-ons. Add one with ', h('code', {}, `berth addons create postgres|redis|sqlite --app ${name}`), '.')
        : h('ul', { class: 'addons', 'aria-label': `Add-ons of ${name}` }, panel.addons.map(addonItem)),
      h('h3', { class: 'sub' }, 'Recent backups'),
      panel.backups.length === 0
        ? h('p', { class: 'muted' }, 'No backups yet.')
        : backupTable(panel.backups),
      panel.older === 0 ? null : h('p', { class: 'muted small' }, `${panel.older} older backup${panel.older === 1 ? '' : 's'}: `, h('code', {}, `berth backups list --app ${name}`)),
    );
    if (focused !== undefined) backups.querySelector(`button[data-kind="${CSS.escape(focused)}"]`)?.focus();
  }

  function render() {
    once('head', [detail.app, detail.backups?.alerts ?? []], renderHead);
    once('releases', detail.releases, renderReleases);
    // The scale form is left alone while someone is editing it.
    if (!scale.contains(document.activeElement)) once('scale', detail.formation, renderScale);
    once('instances', [detail.instances, detail.app.release, detail.disk], renderInstances);
    once('config', detail.config, renderConfig);
    once('domains', detail.domains, renderDomains);
    once('deploys', detail.deploys, renderDeploys);
    once('backups', [detail.backups, [...backingUp]], renderBackups);
  }
  render();

  // ---- live -----------------------------------------------------------------
  const charts = Object.entries(chartBoxes).map(([measure, box]) => timeChart(box, series, measure));
  let refreshing = false;
  const stopSamples = follow('/api/events', {
    sample: ({ app, sample }) => {
      if (app !== name) return;
      appendSample(series, sample);
      for (const measure of Object.keys(stats)) stats[measure].textContent = MEASURES[measure].format(latest(series, measure));
      for (const chart of charts) chart.update();
      // Instances and releases change by themselves too (crashes, deploys from the CLI).
      if (refreshing) return;
      refreshing = true;
      refresh().catch(() => {}).finally(() => (refreshing = false));
    },
  });
  const stopLogs = follow(`${base}/logs`, {
    log: (line) => {
      if (paused) return;
      const atBottom = logBox.scrollHeight - logBox.scrollTop - logBox.clientHeight < 8;
      logBox.append(h('span', { class: line.stream === 'err' ? 'err' : null }, logText(line)));
      while (logBox.childNodes.length > MAX_LOG_LINES) logBox.firstChild.remove();
      if (atBottom) logBox.scrollTop = logBox.scrollHeight;
    },
  });
  return () => {
    stopSamples();
    stopLogs();
    for (const chart of charts) chart.destroy();
  };
}
