/**
 * Two catalogs (tests/helpers/catalog.ts) compared for a person to read: each
 * object that differs, named, with a line diff of what each side says.
 */
import type { Catalog } from './catalog.ts';

/** A line diff (longest common subsequence), as `-`/`+`/` ` lines with two lines of context around each change. */
export function lineDiff(a: string, b: string, labels: [string, string]): string {
  const x = a.split('\n');
  const y = b.split('\n');
  const lcs: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: { op: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) ops.push({ op: ' ', line: x[i++]! }), j++;
    else if (i < x.length && (j === y.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ op: '-', line: x[i++]! });
    else ops.push({ op: '+', line: y[j++]! });
  }
  const keep = ops.map((_o, k) => ops.slice(Math.max(0, k - 2), k + 3).some((n) => n.op !== ' '));
  const out = [`    --- ${labels[0]}`, `    +++ ${labels[1]}`];
  ops.forEach((o, k) => {
    if (keep[k]) out.push(`    ${o.op} ${o.line}`);
    else if (keep[k - 1]) out.push('    ...');
  });
  return out.join('\n');
}

/** Every difference between two catalogs, readable: what differs, on which object; empty when they are alike. */
export function diffCatalogs(a: Catalog, b: Catalog, labels: [string, string]): string[] {
  const out: string[] = [];
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const k of keys) {
    const va = a.get(k);
    const vb = b.get(k);
    if (va === vb) continue;
    if (vb === undefined) out.push(`${k}: only in ${labels[0]}\n    ${va!.replaceAll('\n', '\n    ')}`);
    else if (va === undefined) out.push(`${k}: only in ${labels[1]}\n    ${vb.replaceAll('\n', '\n    ')}`);
    else out.push(`${k}: differs\n${lineDiff(va, vb, labels)}`);
  }
  return out;
}
