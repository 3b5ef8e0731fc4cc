/**
 * Injected failures of MercadoPago's API: the next N matching calls answer 500
 * (`error`) or hang without answering (`timeout`) until the client gives up or
 * `hangMs` passes. Checkout page and control API are never affected.
 */
import type { ServerResponse } from 'node:http';
import { badRequest } from './errors.ts';
import type { FaultOptions } from './types.ts';

export interface ActiveFault extends Required<Omit<FaultOptions, 'pathPrefix' | 'method'>> {
  pathPrefix: string | null;
  method: string | null;
}

export class Faults {
  private queue: ActiveFault[] = [];
  private readonly hanging = new Set<ServerResponse>();

  add(options: FaultOptions): ActiveFault {
    if (options.mode !== 'error' && options.mode !== 'timeout') throw badRequest('invalid_mode', 'mode must be "error" or "timeout"');
    const count = options.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw badRequest('invalid_count', 'count must be a positive integer');
    const fault: ActiveFault = {
      mode: options.mode,
      count,
      hangMs: options.hangMs ?? 70_000,
      pathPrefix: options.pathPrefix ?? null,
      method: options.method?.toUpperCase() ?? null,
    };
    this.queue.push(fault);
    return fault;
  }

  list(): ActiveFault[] {
    return this.queue.map((f) => ({ ...f }));
  }

  clear(): void {
    this.queue = [];
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  /** Consumes one matching fault, if any. */
  take(method: string, path: string): ActiveFault | null {
    const fault = this.queue.find(
      (f) => (f.method === null || f.method === method) && (f.pathPrefix === null || path.startsWith(f.pathPrefix)),
    );
    if (fault === undefined) return null;
    fault.count--;
    if (fault.count === 0) this.queue = this.queue.filter((f) => f !== fault);
    return { ...fault };
  }

  /** Keeps the request open without answering; drops the connection after `hangMs`. */
  hang(res: ServerResponse, hangMs: number): void {
    this.hanging.add(res);
    const timer = setTimeout(() => res.destroy(), hangMs);
    res.on('close', () => {
      clearTimeout(timer);
      this.hanging.delete(res);
    });
  }
}
