/**
 * `npm run bench -- --repeat N`: each figure and ratio summarised as its
 * median and min–max over the runs (bench/repeat.ts), and issue 25's goals
 * read from the summary (bench/goals.ts).
 */
import { describe, expect, it } from 'vitest';
import { evaluateGoals, printGoals } from '../../bench/goals.ts';
import type { Row, Stats } from '../../bench/lib.ts';
import { fmtSpread, printSummary, spread, summarizeRuns } from '../../bench/repeat.ts';

const stats = (throughput: number, p99: number): Stats => ({ ops: 100, errors: 0, seconds: 1, throughput, p50: p99 / 2, p95: p99, p99, errorSamples: [] });

const hot32 = (vsFloor: number, cpu: number, p99: number): Row => ({
  workload: 'hot product',
  variant: '32 clients, 0 ms round trip: begin_checkout',
  stats: stats(1000, p99),
  figures: { 'PostgreSQL CPU ms per checkout': cpu },
  ratios: { 'vs floor': vsFloor },
});

describe('spread', () => {
  it('is the median and the smallest and largest value, the median of an even count the mean of the middle two', () => {
    expect(spread([3, 1, 2, 5, 4])).toEqual({ median: 3, min: 1, max: 5, values: [3, 1, 2, 5, 4] });
    expect(spread([4, 1, 2, 10])).toMatchObject({ median: 3, min: 1, max: 10 });
  });

  it('leaves out runs without a number (NaN) but keeps them in the values', () => {
    expect(spread([NaN, 2, 4])).toMatchObject({ median: 3, min: 2, max: 4 });
    expect(spread([NaN]).median).toBeNaN();
  });
});

describe('summarizeRuns', () => {
  it('matches rows by workload and variant across runs and summarises each ratio as computed within its run', () => {
    const runs = [
      [hot32(0.4, 1.2, 80), { workload: 'sold out', variant: 'x', figures: { answers: '409: 256' } }],
      [hot32(0.6, 0.9, 120), { workload: 'sold out', variant: 'x', figures: { answers: '409: 256' } }],
      [hot32(0.5, 1.0, 100), { workload: 'sold out', variant: 'x', figures: { answers: '409: 255' } }],
    ];
    const [hot, sold] = summarizeRuns(runs);
    expect(hot).toMatchObject({ workload: 'hot product', runs: 3 });
    expect(hot!.ratios['vs floor']).toMatchObject({ median: 0.5, min: 0.4, max: 0.6, values: [0.4, 0.6, 0.5] });
    expect(hot!.figures['PostgreSQL CPU ms per checkout']).toMatchObject({ median: 1.0, min: 0.9, max: 1.2 });
    expect(hot!.stats!.p99).toMatchObject({ median: 100, min: 80, max: 120 });
    // Text figures: each different value once.
    expect(sold).toMatchObject({ runs: 3, stats: undefined, figures: { answers: '409: 256 | 409: 255' } });
  });

  it('says when a row came from fewer runs than were made', () => {
    const summary = summarizeRuns([[hot32(0.4, 1, 1)], [hot32(0.5, 1, 1), { workload: 'admin', variant: 'once', figures: { s: 1 } }]]);
    expect(summary.map((r) => r.runs)).toEqual([2, 1]);
    const lines: string[] = [];
    printSummary(summary, 2, (l) => lines.push(l));
    expect(lines.join('\n')).toContain('once [1 of 2 runs]');
    expect(lines.join('\n')).toContain('vs floor 0.45x (0.40–0.50)');
  });

  it('prints one run without a spread, two or more always with theirs', () => {
    expect(fmtSpread(spread([0.16]), 2, 'x')).toBe('0.16x');
    expect(fmtSpread(spread([0.161, 0.163]), 2, 'x')).toBe('0.16x (0.16–0.16)');
    expect(fmtSpread(spread([NaN, NaN]), 0)).toBe('-');
  });
});

describe('evaluateGoals', () => {
  it('judges each goal by its median, counts the runs that met it, and says which goals were not measured', () => {
    const summary = summarizeRuns([[hot32(0.4, 1.2, 1)], [hot32(0.6, 0.9, 1)], [hot32(0.55, 0.95, 1)]]);
    const goals = evaluateGoals(summary);
    const byName = (s: string) => goals.find((g) => g.goal.startsWith(s))!;
    expect(byName('hot product, 32 clients, loopback: throughput vs floor')).toMatchObject({ target: '≥ 0.5x', median: 0.55, met: true, runsMet: 2 });
    expect(byName('PostgreSQL CPU per checkout')).toMatchObject({ target: '≤ 1 ms', median: 0.95, met: true, runsMet: 2 });
    expect(byName('sold out').met).toBeUndefined();
    const lines: string[] = [];
    printGoals(goals, (l) => lines.push(l));
    const text = lines.join('\n');
    expect(text).toMatch(/throughput vs floor\s+≥ 0.5x\s+0.55x \(0.40–0.60\)\s+MET \(in 2 of 3 runs\)/);
    expect(text).toMatch(/p99 of the 409s\s+≤ 100 ms\s+not measured/);
  });

  it('is not met when the median misses, even if some run met it', () => {
    const goals = evaluateGoals(summarizeRuns([[hot32(0.6, 1, 1)], [hot32(0.3, 1, 1)], [hot32(0.2, 1, 1)]]));
    expect(goals[0]).toMatchObject({ median: 0.3, met: false, runsMet: 1 });
  });
});
