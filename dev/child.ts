/** Stopping a child process we started: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
import type { ChildProcess } from 'node:child_process';

export function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), graceMs).unref();
  });
}
