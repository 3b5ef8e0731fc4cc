/**
 * The READMEs' error tables against the contract module
 * (edge/_shared/contract.ts): a code documented but not in the module, in the
 * module but not documented, or documented with another status fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTION_ERRORS, MAPPED_SQLSTATES, SQLSTATES } from '../../edge/_shared/contract.ts';

const root = join(import.meta.dirname, '..', '..');

/** The rows of the first markdown table after `heading`, as arrays of cells. */
function tableAfter(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(heading);
  if (start < 0) throw new Error(`no "${heading}" section`);
  const lines = markdown.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows: string[][] = [];
  for (const line of lines.slice(first)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
  }
  return rows.slice(2); // header and separator
}

const codesIn = (cell: string) => [...cell.matchAll(/`([A-Za-z0-9_]+)`/g)].map((m) => m[1]!);

describe('README error table', () => {
  const rows = tableAfter(readFileSync(join(root, 'README.md'), 'utf8'), '### Errors');

  it('documents exactly the SQLSTATEs the contract defines (plus PostgreSQL 42501)', () => {
    const documented = rows.flatMap((r) => codesIn(r[0] ?? '')).filter((c) => c !== '42501');
    expect([...documented].sort()).toEqual(Object.keys(SQLSTATES).sort());
  });
});

describe('edge/README error tables', () => {
  const md = readFileSync(join(root, 'edge', 'README.md'), 'utf8');
  const statusOf = (code: string): number | undefined =>
    code in FUNCTION_ERRORS
      ? FUNCTION_ERRORS[code as keyof typeof FUNCTION_ERRORS].status
      : Object.values(MAPPED_SQLSTATES).find((c) => c.error === code)?.status;

  it('gives every error the status the contract gives it', () => {
    const rows = tableAfter(md, '## create-preference');
    // Codes outside parentheses (inside them: the details' fields).
    const documented = rows.flatMap((r) => codesIn((r[1] ?? '').replace(/\([^)]*\)/g, '')).map((c) => [c, Number(r[0])] as const));
    expect(documented.length).toBeGreaterThan(5);
    for (const [code, status] of documented) expect([code, statusOf(code)]).toEqual([code, status]);
  });

  it('names no error code the contract does not know', () => {
    // Upstream services' codes the README mentions (Resend's), not ours.
    const upstream = new Set(['concurrent_idempotent_requests', 'invalid_idempotent_request']);
    const prose = [...md.matchAll(/`(\d{3}) ([a-z_]+)`/g)].map((m) => [m[2]!, Number(m[1])] as const).filter(([code]) => !upstream.has(code));
    expect(prose.length).toBeGreaterThan(3);
    for (const [code, status] of prose) expect([code, statusOf(code)]).toEqual([code, status]);
  });
});

describe('exposed schemas', () => {
  it("the pgTAP RLS check covers exactly supabase/config.toml's api.schemas", () => {
    const toml = readFileSync(join(root, 'supabase', 'config.toml'), 'utf8');
    const exposed = /^schemas\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1]?.match(/"[^"]+"/g)?.map((s) => s.slice(1, -1)) ?? [];
    const pgtap = readFileSync(join(root, 'supabase', 'tests', '170-rls-exposed-schemas.sql'), 'utf8');
    const checked = /unnest\(array\[([^\]]*)\]\)/.exec(pgtap)?.[1]?.match(/'[^']+'/g)?.map((s) => s.slice(1, -1)) ?? [];
    expect(exposed.length).toBeGreaterThan(0);
    expect(checked.sort()).toEqual(exposed.sort());
  });
});

describe('the functions raise what the contract says', () => {
  it('every `new HttpError(status, code)` in edge/ has the status the contract gives the code', () => {
    const files = readdirSync(join(root, 'edge'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const raised = files.flatMap((f) =>
      [...readFileSync(join(root, 'edge', f), 'utf8').matchAll(/new HttpError\(\s*(\d{3}),\s*'([a-z_]+)'/g)].map((m) => ({
        file: f,
        status: Number(m[1]),
        code: m[2]!,
      }))
    );
    expect(raised.length).toBeGreaterThan(20);
    // The webhook answers transient trouble with 500 on purpose: MercadoPago retries only then.
    const webhookRetry = (r: { file: string; status: number }) => r.file.startsWith('mercadopago-webhook') && r.status === 500;
    const statusOf = (code: string) =>
      code in FUNCTION_ERRORS
        ? FUNCTION_ERRORS[code as keyof typeof FUNCTION_ERRORS].status
        : Object.values(MAPPED_SQLSTATES).find((c) => c.error === code)?.status;
    for (const r of raised.filter((r) => !webhookRetry(r))) expect({ ...r, status: statusOf(r.code) }).toEqual(r);
  });
});
