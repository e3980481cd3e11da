// Charts: small SVG sparklines for the overview, uPlot time charts for an
// app's last hour. Both take the series as columns ({t, requests, errors,
// p95Ms}, one entry per 5-second step) and a measure that derives the
// plotted values from it.

export const STEP_SECONDS = 5;
/** An hour of 5-second steps: what the daemon keeps, and what the charts show. */
export const MAX_POINTS = 720;

/** What can be plotted: a label, a unit, and the values per step (null: nothing to say). */
export const MEASURES = {
  rate: { label: 'Requests per second', short: 'req/s', values: (s) => s.requests.map((n) => n / STEP_SECONDS), format: (v) => (v === null ? '–' : `${fmt(v)} req/s`) },
  p95: { label: 'p95 latency', short: 'ms', values: (s) => s.p95Ms, format: (v) => (v === null ? '–' : `${fmt(v)} ms`) },
  errors: {
    label: 'Error rate (5xx)',
    short: '%',
    values: (s) => s.requests.map((n, i) => (n === 0 ? null : (100 * s.errors[i]) / n)),
    format: (v) => (v === null ? '–' : `${fmt(v)} %`),
  },
};

function fmt(v) {
  if (v === 0) return '0';
  if (Math.abs(v) >= 100) return String(Math.round(v));
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** The newest value of a measure, or null. */
export function latest(series, measure) {
  const values = MEASURES[measure].values(series);
  return values.length === 0 ? null : values[values.length - 1];
}

/** Adds one sample to a series in place, keeping the last hour. */
export function appendSample(series, sample) {
  if (series.t.length > 0 && series.t[series.t.length - 1] >= sample.t) return;
  series.t.push(sample.t);
  series.requests.push(sample.requests);
  series.errors.push(sample.errors);
  series.p95Ms.push(sample.p95Ms);
  while (series.t.length > MAX_POINTS) for (const key of ['t', 'requests', 'errors', 'p95Ms']) series[key].shift();
}

export function emptySeries() {
  return { t: [], requests: [], errors: [], p95Ms: [] };
}

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG sparkline of a measure, described for screen readers by its latest value. */
export function sparkline(series, measure) {
  const width = 120;
  const height = 28;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', `spark spark-${measure}`);
  svg.setAttribute('role', 'img');
  const values = MEASURES[measure].values(series);
  svg.setAttribute('aria-label', `${MEASURES[measure].label} over the last hour; now ${MEASURES[measure].format(values.at(-1) ?? null)}`);
  // The last 30 minutes at most: a sparkline is a glance, not a chart.
  const shown = values.slice(-360);
  const max = Math.max(1e-9, ...shown.filter((v) => v !== null));
  // Two pixels kept free on every side, for the line's width and the dot.
  const x = (i) => (shown.length > 1 ? 2 + (i * (width - 4)) / (shown.length - 1) : width - 2).toFixed(1);
  const y = (v) => (height - 2 - (v / max) * (height - 4)).toFixed(1);
  let d = '';
  shown.forEach((v, i) => {
    if (v === null) return;
    d += `${d === '' || shown[i - 1] === null ? 'M' : 'L'}${x(i)} ${y(v)}`;
  });
  const base = document.createElementNS(SVG, 'line');
  base.setAttribute('x1', '0');
  base.setAttribute('x2', String(width));
  base.setAttribute('y1', String(height - 1));
  base.setAttribute('y2', String(height - 1));
  base.setAttribute('class', 'spark-base');
  svg.append(base);
  if (d !== '') {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  // The newest value as a dot, so that a single step (or one after a gap) shows too.
  const last = shown.at(-1);
  if (last !== null && last !== undefined) {
    const dot = document.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', x(shown.length - 1));
    dot.setAttribute('cy', y(last));
    dot.setAttribute('r', '2');
    svg.append(dot);
  }
  return svg;
}

function cssColor(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/**
 * A uPlot chart of one measure in `container`, sized to it (and resized
 * with it). Returns { update(series), destroy() }.
 */
export function timeChart(container, series, measure) {
  const m = MEASURES[measure];
  const data = () => [series.t.map((t) => t / 1000), m.values(series)];
  const color = cssColor(`--chart-${measure}`, '#1f6feb');
  const axis = { stroke: cssColor('--muted', '#666'), grid: { stroke: cssColor('--grid', '#eee'), width: 1 }, ticks: { stroke: cssColor('--grid', '#eee'), width: 1 } };
  const width = () => Math.max(200, container.clientWidth);
  const plot = new window.uPlot(
    {
      width: width(),
      height: 170,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [axis, { ...axis, size: 50 }],
      series: [{}, { label: m.short, stroke: color, width: 2, fill: `${color}22`, spanGaps: false, points: { show: false }, value: (_u, v) => m.format(v ?? null) }],
      // The tiles above say the newest values; the legend would only repeat them.
      legend: { show: false },
    },
    data(),
    container,
  );
  const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: 170 }));
  resize.observe(container);
  return {
    update: () => plot.setData(data()),
    destroy: () => {
      resize.disconnect();
      plot.destroy();
    },
  };
}
