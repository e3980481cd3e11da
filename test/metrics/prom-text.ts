// Reading /metrics the way a scraper does, with a real parser of the
// Prometheus text format (parse-prometheus-text-format, a port of the
// Python client's parser), for the metrics tests.
//
// That parser folds a histogram family into one object keyed by `le`, and
// drops the series' labels, `_sum` and `_count` whenever the series have
// labels other than `le` (yunyu/parse-prometheus-text-format#13, fix
// unmerged in #8). So the text is parsed twice: as it is, for every
// family's name, TYPE and HELP (and to reject malformed lines); and with
// the TYPE lines of histograms and summaries left out, so that each
// `_bucket`, `_sum` and `_count` sample comes back as a plain sample with
// all its labels. The histogram rules (cumulative buckets, a +Inf bucket
// equal to `_count`) are then checked here.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface HistogramSeries {
  /** [upper bound, cumulative count], ascending, the last +Inf. */
  readonly buckets: ReadonlyArray<readonly [number, number]>;
  readonly sum: number;
  readonly count: number;
}

export class Exposition {
  /** Family name → its TYPE (COUNTER, GAUGE, HISTOGRAM, …) and HELP. */
  readonly families = new Map<string, { readonly type: string; readonly help: string }>();
  readonly #samples = new Map<string, Sample[]>();

  constructor(text: string) {
    const split = new Set<string>();
    for (const family of parsePrometheusTextFormat(text)) {
      if (this.families.has(family.name)) throw new Error(`family ${family.name} appears twice`);
      this.families.set(family.name, { type: family.type, help: family.help });
      if (family.type === 'HISTOGRAM' || family.type === 'SUMMARY') split.add(family.name);
    }
    const flat = text
      .split('\n')
      .filter((line) => {
        const type = /^# TYPE (\S+) /.exec(line);
        return type === null || !split.has(type[1]!);
      })
      .join('\n');
    for (const family of parsePrometheusTextFormat(flat)) {
      const samples = this.#samples.get(family.name) ?? [];
      for (const sample of family.metrics) {
        if (sample.value === undefined) throw new Error(`${family.name}: a sample without a value`);
        samples.push({ labels: sample.labels ?? {}, value: parseValue(sample.value) });
      }
      this.#samples.set(family.name, samples);
    }
  }

  /** Every sample of a name (a family, or a histogram's `_bucket`/`_sum`/`_count`). */
  samples(name: string): readonly Sample[] {
    return this.#samples.get(name) ?? [];
  }

  /** The value of the one sample whose labels are exactly `labels`, or undefined. */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
    const matching = this.samples(name).filter((sample) => sameLabels(sample.labels, labels));
    if (matching.length > 1) throw new Error(`${name}${JSON.stringify(labels)} appears ${matching.length} times`);
    return matching[0]?.value;
  }

  /** One histogram series, checked against the exposition's rules; undefined when absent. */
  histogram(name: string, labels: Readonly<Record<string, string>> = {}): HistogramSeries | undefined {
    const family = this.families.get(name);
    if (family === undefined) return undefined;
    if (family.type !== 'HISTOGRAM') throw new Error(`${name} is a ${family.type}, not a histogram`);
    const buckets = this.samples(`${name}_bucket`)
      .filter((sample) => {
        const { le, ...rest } = sample.labels;
        return le !== undefined && sameLabels(rest, labels);
      })
      .map((sample) => [parseValue(sample.labels.le!), sample.value] as const);
    const sum = this.value(`${name}_sum`, labels);
    const count = this.value(`${name}_count`, labels);
    if (buckets.length === 0 && sum === undefined && count === undefined) return undefined;
    if (sum === undefined || count === undefined) throw new Error(`${name}${JSON.stringify(labels)} lacks _sum or _count`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]![0] > buckets[i - 1]![0])) throw new Error(`${name}: bucket bounds out of order`);
      if (buckets[i]![1] < buckets[i - 1]![1]) throw new Error(`${name}: buckets are not cumulative`);
    }
    const last = buckets.at(-1);
    if (last === undefined || last[0] !== Infinity) throw new Error(`${name}${JSON.stringify(labels)} has no +Inf bucket`);
    if (last[1] !== count) throw new Error(`${name}${JSON.stringify(labels)}: +Inf bucket ${last[1]} != _count ${count}`);
    return { buckets, sum, count };
  }
}

/** A sample value as Prometheus reads it (Go's ParseFloat: NaN and Inf in any case; prom-client writes "Nan"). */
function parseValue(text: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const value = Number(text);
  if (Number.isNaN(value) || text.trim() === '') throw new Error(`not a sample value: ${text}`);
  return value;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
