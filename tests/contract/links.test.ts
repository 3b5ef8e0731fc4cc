/**
 * Every relative link in README.md, docs/*.md and every folder's README
 * names a file that exists, and every `#anchor` a heading of its page (as
 * GitHub makes anchors: lower case, punctuation dropped, spaces to hyphens,
 * a repeated heading numbered -1, -2...).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const SKIP = new Set(['node_modules', 'dist', 'test-results', 'bench-results']);

/** README.md anywhere in the tree (outside dependencies and build output), and docs/*.md. */
function pages(): string[] {
  const readmes = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((d) => {
      if (d.isDirectory()) return d.name.startsWith('.') || SKIP.has(d.name) ? [] : readmes(join(dir, d.name));
      return d.name === 'README.md' ? [join(dir, d.name)] : [];
    });
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f));
  return [...new Set([...readmes('.'), ...docs])].map((p) => relative('.', p)).sort();
}

/** The text outside fenced code blocks and inline code, where links and headings are. */
const prose = (md: string) => md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, (m) => ' '.repeat(m.length));

/** GitHub's anchor for a heading's text. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');

function anchorsOf(md: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  // Headings keep their inline code's text: take them from the text without fences only.
  const text = md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, title] of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(title!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** The relative links of a page, and those that do not resolve. */
function links(page: string): { checked: number; broken: string[] } {
  const md = readFileSync(join(root, page), 'utf8');
  const broken: string[] = [];
  let checked = 0;
  for (const [, target] of prose(md).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto: ...
    checked++;
    const [path, anchor] = target!.split('#', 2) as [string, string | undefined];
    const file = path === '' ? join(root, page) : join(root, dirname(page), decodeURIComponent(path));
    if (!existsSync(file)) {
      broken.push(`${page}: ${target} (no such file)`);
      continue;
    }
    if (anchor === undefined) continue;
    if (statSync(file).isDirectory() || !file.endsWith('.md')) broken.push(`${page}: ${target} (an anchor into a file that is not markdown)`);
    else if (!anchorsOf(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${page}: ${target} (no such heading)`);
  }
  return { checked, broken };
}

describe('documentation links', () => {
  const all = pages();

  it('finds the README, every docs page and every folder README, and their links', () => {
    expect(all.map((p) => links(p).checked).reduce((a, b) => a + b)).toBeGreaterThan(50);
    expect(all).toContain('README.md');
    expect(all).toContain(join('docs', 'database.md'));
    expect(all).toContain(join('edge', 'README.md'));
    expect(all).toContain(join('dev', 'stack', 'README.md'));
  });

  it('makes anchors as GitHub does', () => {
    const anchors = anchorsOf("# A `code` title\n## The store owner's dashboard\n```sh\n# not a heading\n```\n## Errors\n### Errors\n");
    expect([...anchors]).toEqual(['a-code-title', 'the-store-owners-dashboard', 'errors', 'errors-1']);
  });

  it.each(all)('%s: every relative link and #anchor resolves', (page) => {
    expect(links(page).broken).toEqual([]);
  });
});
