/**
 * The documented error tables against the contract module
 * (edge/_shared/contract.ts) and the storefront library (web/src/errors.ts):
 * a code documented but not in the module, in the module but not documented,
 * or documented with another status, code or library class fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTION_ERRORS, MAPPED_SQLSTATES, SQLSTATES } from '../../edge/_shared/contract.ts';
import { fromFunctionError, fromPostgrestError } from '../../web/src/errors.ts';

const root = join(import.meta.dirname, '..', '..');

/** The rows of the first markdown table after `heading`, as arrays of cells. */
function tableAfter(markdown: string, heading: string | RegExp): string[][] {
  const start = typeof heading === 'string' ? markdown.indexOf(heading) : markdown.search(heading);
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

/** The one page with an "Errors" heading: README.md or a page of docs/. */
const ERRORS_HEADING = /^#{2,4} Errors$/m;
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
const errorPages = pages.filter((p) => ERRORS_HEADING.test(readFileSync(join(root, p), 'utf8')));

describe('the SQLSTATE error table', () => {
  it('lives on exactly one page', () => {
    expect(errorPages).toHaveLength(1);
  });
  const rows = tableAfter(readFileSync(join(root, errorPages[0] ?? 'README.md'), 'utf8'), ERRORS_HEADING);
  const ours = rows.filter((r) => codesIn(r[0] ?? '')[0] !== '42501');

  it('documents exactly the SQLSTATEs the contract defines (plus PostgreSQL 42501), one a row', () => {
    expect(rows.map((r) => codesIn(r[0] ?? '')).every((c) => c.length === 1)).toBe(true);
    expect(ours.map((r) => codesIn(r[0]!)[0]).sort()).toEqual(Object.keys(SQLSTATES).sort());
  });

  it("gives each the functions' status and code and the library class the contract gives it", () => {
    for (const [code, answer, library] of ours.map((r) => [codesIn(r[0]!)[0]!, r[1] ?? '', codesIn(r[2] ?? '')[0]] as const)) {
      const contract = SQLSTATES[code as keyof typeof SQLSTATES];
      expect({ code, answer, library }).toEqual({ code, answer: `${contract.status} \`${contract.error}\``, library: contract.library });
    }
  });

  it('names the class web/src/errors.ts really throws, through PostgREST and through the functions', () => {
    expect(rows.length).toBeGreaterThan(20);
    for (const r of rows) {
      const [code, library] = [codesIn(r[0]!)[0]!, codesIn(r[2] ?? '')[0]];
      const viaRpc = fromPostgrestError({ code, message: 'm', details: null }, code === '42501' ? 401 : 400);
      expect([code, viaRpc.constructor.name]).toEqual([code, library]);
      if (code === '42501') continue;
      const contract = SQLSTATES[code as keyof typeof SQLSTATES];
      const viaFunction = fromFunctionError(contract.status, { error: contract.error, message: 'm' });
      expect([code, viaFunction.constructor.name]).toEqual([code, library]);
    }
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
