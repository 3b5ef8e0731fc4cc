/**
 * Polls `probe` until it gives a truthy value, and returns it; fails naming
 * `what` once `ms` have passed. For outcomes that arrive asynchronously
 * (webhook deliveries, reconcile passes, emails).
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
