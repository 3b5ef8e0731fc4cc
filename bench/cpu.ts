/**
 * CPU time of the processes in a measurement, from /proc (Linux): where the
 * cycles of a workload go on a shared machine, in CPU seconds, which hold
 * better than wall-clock rates when other work competes for the cores.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TICKS = 100; // USER_HZ on Linux

function stat(pid: number): { ppid: number; own: number; reaped: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return { ppid: Number(f[1]), own: (Number(f[11]) + Number(f[12])) / TICKS, reaped: (Number(f[13]) + Number(f[14])) / TICKS };
  } catch {
    return undefined;
  }
}

/** CPU seconds of a process and all its children, live and exited (reaped). */
export function treeCpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  const root = stat(pid);
  if (!root) return NaN;
  let total = root.own + root.reaped;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s && s.ppid === pid) total += s.own;
  }
  return total;
}

/** The postmaster's pid of a cluster's data directory. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    return Number(readFileSync(join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

/** This process's CPU seconds (user + system). */
export const selfCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** CPU seconds spent by each named process while `fn` runs. */
export async function cpuDuring<T>(pids: Record<string, () => number>, fn: () => Promise<T>): Promise<{ result: T; cpu: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, f]) => [k, f()]));
  const result = await fn();
  const cpu = Object.fromEntries(Object.entries(pids).map(([k, f]) => [k, f() - before[k]!]));
  return { result, cpu };
}
