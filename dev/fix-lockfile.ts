/**
 * Keeps package-lock.json usable by `npm ci` on every platform.
 *
 * The npm mirror these machines use lacks the other platforms' builds of
 * some binary packages (deno, the Supabase CLI), so `npm install` here writes
 * a lock without them and `npm ci` then refuses it as out of sync. This adds
 * the missing optional platform entries (version, os, cpu, libc), which
 * `npm ci` skips on a platform they do not match. Run after `npm install`:
 *   npx tsx dev/fix-lockfile.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './pg/prepare.ts';

interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  optionalDependencies?: Record<string, string>;
}

const file = join(repoRoot, 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8')) as { packages: Record<string, LockEntry> };
const added: string[] = [];
for (const info of Object.values(lock.packages)) {
  for (const [dep, version] of Object.entries(info.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (lock.packages[key]) continue;
    const m = /(darwin|linux|win32|windows)-(x64|arm64)(?:-(glibc|musl))?$/.exec(dep);
    if (!m) continue;
    const entry: LockEntry = { version, optional: true, os: [m[1] === 'windows' ? 'win32' : m[1]!], cpu: [m[2]!] };
    if (info.dev) entry.dev = true;
    if (m[3]) entry.libc = [m[3]];
    lock.packages[key] = entry;
    added.push(`${dep}@${version}`);
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(file, JSON.stringify({ ...lock, packages: sorted }, null, 2) + '\n');
console.log(added.length ? `added ${added.join(', ')}` : 'lock already complete');
