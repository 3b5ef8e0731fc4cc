/**
 * The goals of issue 25's table, read from the report's rows: each with its
 * median and spread over the runs (bench/repeat.ts), met or not by the
 * median, and in how many runs it was met. A goal whose cell was not
 * selected (`--only`) says "not measured".
 */
import { fmtSpread, type Spread, type SummaryRow } from './repeat.ts';

interface Goal {
  label: string;
  workload: string;
  variant: RegExp;
  /** The number the goal is about, from the row. */
  value: (r: SummaryRow) => Spread | undefined;
  /** `<=` or `>=` (or `<`) than `target`. */
  op: '<=' | '>=' | '<';
  target: number;
  unit: string;
}

const figure = (name: string) => (r: SummaryRow) => {
  const v = r.figures[name];
  return typeof v === 'string' ? undefined : v;
};
const ratio = (name: string) => (r: SummaryRow) => r.ratios[name];

export const GOALS: Goal[] = [
  {
    label: 'hot product, 32 clients, loopback: throughput vs floor',
    workload: 'hot product',
    variant: /^32 clients, 0 ms round trip: begin_checkout$/,
    value: ratio('vs floor'),
    op: '>=',
    target: 0.5,
    unit: 'x',
  },
  {
    label: 'PostgreSQL CPU per checkout, 32 clients, loopback',
    workload: 'hot product',
    variant: /^32 clients, 0 ms round trip: begin_checkout$/,
    value: figure('PostgreSQL CPU ms per checkout'),
    op: '<=',
    target: 1.0,
    unit: ' ms',
  },
  {
    label: 'sold out (64 clients, 64 units): p99 of the 409s',
    workload: 'sold out',
    variant: /: begin_checkout, the 409s$/,
    value: (r) => r.stats?.p99,
    op: '<=',
    target: 100,
    unit: ' ms',
  },
  {
    label: 'apply_payment once each, 16 clients: PostgreSQL CPU per payment',
    workload: 'payment application',
    variant: /once each, 16 clients$/,
    value: figure('PostgreSQL CPU ms per payment'),
    op: '<=',
    target: 2,
    unit: ' ms',
  },
  {
    label: 'apply_payment once each, 16 clients: p99',
    workload: 'payment application',
    variant: /once each, 16 clients$/,
    value: (r) => r.stats?.p99,
    op: '<=',
    target: 100,
    unit: ' ms',
  },
  {
    label: 'webhook end to end (db pool 3): Deno peak RSS',
    workload: 'webhook end to end',
    variant: /\(db pool 3\)/,
    value: figure('webhook peak RSS MiB'),
    op: '<=',
    target: 200,
    unit: ' MiB',
  },
  {
    label: 'hot product, 128 clients, loopback: p99 vs naive',
    workload: 'hot product',
    variant: /^128 clients, 0 ms round trip: begin_checkout$/,
    value: ratio('p99 vs naive'),
    op: '<=',
    target: 1.0,
    unit: 'x',
  },
  {
    label: 'hot product, 128 clients, loopback: throughput vs naive',
    workload: 'hot product',
    variant: /^128 clients, 0 ms round trip: begin_checkout$/,
    value: ratio('vs naive'),
    op: '>=',
    target: 1.0,
    unit: 'x',
  },
  {
    label: 'flash sale through PgBouncer: p99 of the 409s',
    workload: 'flash sale',
    variant: /through PgBouncer/,
    value: figure('p99 of the 409s ms (no sandbox call)'),
    op: '<',
    target: 250,
    unit: ' ms',
  },
];

const meets = (v: number, g: Goal) => (g.op === '<=' ? v <= g.target : g.op === '>=' ? v >= g.target : v < g.target);

export interface GoalResult {
  goal: string;
  target: string;
  /** The row it was read from. */
  cell?: string;
  median?: number;
  min?: number;
  max?: number;
  values?: number[];
  /** By the median; undefined when not measured. */
  met?: boolean;
  runsMet?: number;
}

export function evaluateGoals(summary: SummaryRow[]): GoalResult[] {
  return GOALS.map((g) => {
    const target = `${g.op.replace('<=', '≤').replace('>=', '≥')} ${g.target}${g.unit}`;
    const row = summary.find((r) => r.workload === g.workload && g.variant.test(r.variant));
    const s = row && g.value(row);
    if (!row || !s || !Number.isFinite(s.median)) return { goal: g.label, target };
    return {
      goal: g.label,
      target,
      cell: `${row.workload}: ${row.variant}`,
      median: s.median,
      min: s.min,
      max: s.max,
      values: s.values,
      met: meets(s.median, g),
      runsMet: s.values.filter((v) => Number.isFinite(v) && meets(v, g)).length,
    };
  });
}

/** The block the lead quotes: goal, target, median (min–max), met or not. */
export function printGoals(results: GoalResult[], print: (line: string) => void = console.log): void {
  const body = results.map((r) => {
    const g = GOALS.find((x) => x.label === r.goal)!;
    if (r.met === undefined) return [r.goal, r.target, 'not measured (cell not selected)', ''];
    const s = { median: r.median!, min: r.min!, max: r.max!, values: r.values! };
    const n = r.values!.length;
    return [r.goal, r.target, fmtSpread(s, g.unit === 'x' ? 2 : 1, g.unit), `${r.met ? 'MET' : 'NOT MET'}${n > 1 ? ` (in ${r.runsMet} of ${n} runs)` : ''}`];
  });
  const header = ['goal (issue 25)', 'target', 'median (min–max)', 'by the median'];
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  print('\nGoals:');
  print(header.map((h, i) => h.padEnd(widths[i]!)).join('  ').trimEnd());
  print(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) print(b.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}
