/**
 * No page of the dashboard, the demo or the Next.js storefront writes a user-visible text by hand:
 * every JSX text node, and every placeholder, aria-label, alt, title and
 * label attribute given as a plain string, goes through the catalogs (t()).
 * Parsed with rolldown's parser (oxc, the one vite builds the apps with), so
 * comments, code and class names do not count; what is left with two letters
 * or more in a row is a literal. Text inside <code> (a command) is exempt.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAst } from 'rolldown/parseAst';
import { describe, expect, test } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';

const APPS = ['web/admin/src', 'web/demo/src', 'web/next/app'];
const TEXT_ATTRIBUTES = new Set(['placeholder', 'aria-label', 'alt', 'title', 'label']);
const WORDS = /\p{L}{2,}/u;

const tsxFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? tsxFiles(join(dir, e.name)) : e.name.endsWith('.tsx') ? [join(dir, e.name)] : []);

type Node = { type?: string; start?: number; [k: string]: unknown };

/** The hand-written texts of one file, as "line: text". */
export function literals(source: string): string[] {
  const found: string[] = [];
  // The line of the text's first letter (a text node starts with the line break before it).
  const at = (n: Node, text: string) =>
    found.push(`${source.slice(0, (n.start ?? 0) + text.length - text.trimStart().length).split('\n').length}: ${text.trim()}`);
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (!n || typeof n !== 'object') return;
    const node = n as Node;
    // Code (a command to run, a file name) is the same in every language.
    if (node.type === 'JSXElement' && (node.openingElement as { name: { name?: string } }).name.name === 'code') return;
    if (node.type === 'JSXText' && WORDS.test(String(node.value))) at(node, String(node.value));
    if (node.type === 'JSXAttribute') {
      const name = (node.name as { name?: string }).name ?? '';
      const value = node.value as { type?: string; value?: unknown } | null;
      if (TEXT_ATTRIBUTES.has(name) && value?.type === 'Literal' && WORDS.test(String(value.value))) at(node, `${name}='${String(value.value)}'`);
    }
    for (const v of Object.values(node)) visit(v);
  };
  visit(parseAst(source, { lang: 'tsx' }));
  return found;
}

describe('no hand-written texts in the pages', () => {
  test('the scanner finds text nodes and text attributes, and nothing else', () => {
    expect(literals(`const a = <p className='muted' data-testid='x'>{t('k')} · {n}</p>;`)).toEqual([]);
    expect(literals(`const a = <p>\n  Hola {name}\n</p>;`)).toEqual(['2: Hola']);
    expect(literals(`const a = <input placeholder='Buscar' aria-label={t('k')} />;`)).toEqual([`1: placeholder='Buscar'`]);
    expect(literals(`const a = <p>{t('k')} <code>npm start</code></p>;`)).toEqual([]);
  });
  for (const app of APPS) {
    test(`${app}: every text comes from the catalogs`, () => {
      const found = tsxFiles(join(repoRoot, app)).flatMap((f) => literals(readFileSync(f, 'utf8')).map((l) => `${relative(repoRoot, f)}:${l}`));
      expect(found).toEqual([]);
    });
  }
});
