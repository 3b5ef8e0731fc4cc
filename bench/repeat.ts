/**
 * `--repeat N`: every selected cell runs N times in one invocation, and each
 * figure and each ratio of the report is the median of the N runs with its
 * spread, the smallest and the largest value (min–max: with 5 runs an
 * interquartile range would rest on two of them). A ratio is computed within
 * each run (product and baseline measured side by side) and only then summarised,
 * so a run where the machine was busier moves both sides of it.
 */
import { fmt, type Row } from './lib.ts';

/** One number over the runs: its median, smallest and largest value, and every run's. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  values: number[];
}

/** A row of the report over the runs that produced it. */
export interface SummaryRow {
  workload: string;
  variant: string;
  /** How many runs produced this row. */
  runs: number;
  stats?: Record<'throughput' | 'p50' | 'p95' | 'p99' | 'errors', Spread>;
  figures: Record<string, Spread | string>;
  ratios: Record<string, Spread>;
}

export function spread(values: number[]): Spread {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN, values };
  const mid = finite.length >> 1;
  const median = finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
  return { median, min: finite[0]!, max: finite.at(-1)!, values };
}

const rowKey = (r: Pick<Row, 'workload' | 'variant'>) => `${r.workload}\u0000${r.variant}`;

/** The rows of every run, matched by workload and variant, in the order they first appeared. */
export function summarizeRuns(runs: Row[][]): SummaryRow[] {
  const byKey = new Map<string, Row[]>();
  for (const run of runs) {
    for (const row of run) {
      const key = rowKey(row);
      byKey.set(key, [...(byKey.get(key) ?? []), row]);
    }
  }
  return [...byKey.values()].map((same) => {
    const first = same[0]!;
    const withStats = same.filter((r) => r.stats);
    const names = <K extends 'figures' | 'ratios'>(k: K) => [...new Set(same.flatMap((r) => Object.keys(r[k] ?? {})))];
    const figures: SummaryRow['figures'] = {};
    for (const name of names('figures')) {
      const values = same.map((r) => r.figures?.[name]).filter((v) => v !== undefined);
      figures[name] = values.every((v) => typeof v === 'number') ? spread(values as number[]) : [...new Set(values.map(String))].join(' | ');
    }
    const ratios: SummaryRow['ratios'] = {};
    for (const name of names('ratios')) ratios[name] = spread(same.map((r) => r.ratios?.[name]).filter((v) => v !== undefined) as number[]);
    return {
      workload: first.workload,
      variant: first.variant,
      runs: same.length,
      stats: withStats.length
        ? {
          throughput: spread(withStats.map((r) => r.stats!.throughput)),
          p50: spread(withStats.map((r) => r.stats!.p50)),
          p95: spread(withStats.map((r) => r.stats!.p95)),
          p99: spread(withStats.map((r) => r.stats!.p99)),
          errors: spread(withStats.map((r) => r.stats!.errors)),
        }
        : undefined,
      figures,
      ratios,
    };
  });
}

/** `median (min–max)` over two runs or more (the spread shown even when nil), the value alone from one run, `-` for no number. */
export function fmtSpread(s: Spread, digits: number, unit = ''): string {
  const m = `${fmt(s.median, digits)}${unit}`;
  return s.values.length < 2 || !Number.isFinite(s.median) ? m : `${m} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

/** The report: one line per row, every figure and ratio as median (min–max) over the runs. */
export function printSummary(summary: SummaryRow[], runs: number, print: (line: string) => void = console.log): void {
  if (runs > 1) print(`Median of ${runs} runs (min–max over the runs); a row from fewer runs says so.\n`);
  const header = ['workload', 'variant', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'errors', 'ratios / figures'];
  const body = summary.map((r) => [
    r.workload,
    r.runs < runs ? `${r.variant} [${r.runs} of ${runs} runs]` : r.variant,
    r.stats ? fmtSpread(r.stats.throughput, 0) : '',
    r.stats ? fmtSpread(r.stats.p50, 2) : '',
    r.stats ? fmtSpread(r.stats.p95, 2) : '',
    r.stats ? fmtSpread(r.stats.p99, 2) : '',
    r.stats ? fmtSpread(r.stats.errors, 0) : '',
    [
      ...Object.entries(r.ratios).map(([k, v]) => `${k} ${fmtSpread(v, 2, 'x')}`),
      ...Object.entries(r.figures).map(([k, v]) => `${k} ${typeof v === 'string' ? v : fmtSpread(v, 2)}`),
    ].join('; '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 6 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  print(line(header));
  print(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) print(line(b));
}
