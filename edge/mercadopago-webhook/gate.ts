/**
 * The webhook's bound on work in flight. MercadoPago sends a burst at once
 * (each payment: its payment notification and its merchant order's, created
 * and updated); every notification admitted at once held its MercadoPago
 * call, its response and its wait for a database connection in memory
 * together (issue 25: 410 MiB for 1,500 payments). At most `limit`
 * notifications are worked on at a time; the others wait, in arrival order,
 * holding only their request. A notification of a resource (`key`) that is
 * already waiting and not yet started joins that work: it starts after both
 * arrived, so it fetches what each was notified about.
 *
 * Waiting is bounded too: each waiting notification still holds its open
 * connection and request in the function's memory, so past `maxWaiting` a
 * new one is refused at once (`GateFull`, answered with a retryable 503):
 * MercadoPago sends again any notification not answered 200 or 201, and the
 * reconcile function settles a payment whose notifications all failed.
 */
export class GateFull extends Error {
  constructor() {
    super('too many notifications waiting');
  }
}

export interface Gate {
  run<T>(key: string, job: () => Promise<T>): Promise<T>;
}

export function createGate(limit: number, maxWaiting = Infinity): Gate {
  let running = 0;
  const waiting: (() => void)[] = [];
  const notStarted = new Map<string, Promise<unknown>>();
  const release = () => {
    const next = waiting.shift();
    if (next) next(); // the slot passes to the next in line
    else running--;
  };
  return {
    run<T>(key: string, job: () => Promise<T>): Promise<T> {
      const queued = notStarted.get(key);
      if (queued) return queued as Promise<T>;
      if (running >= limit && waiting.length >= maxWaiting) return Promise.reject(new GateFull());
      const slot = running < limit ? (running++, Promise.resolve()) : new Promise<void>((resolve) => waiting.push(resolve));
      const work: Promise<T> = slot.then(async () => {
        if (notStarted.get(key) === work) notStarted.delete(key);
        try {
          return await job();
        } finally {
          release();
        }
      });
      notStarted.set(key, work);
      return work;
    },
  };
}
