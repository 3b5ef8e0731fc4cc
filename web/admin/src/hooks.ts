/** Polling: the dashboard's numbers refresh without a reload. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from './api.ts';
import { describeError } from './format.ts';

export const REFRESH_MS = 5_000;

/** Loads now, then every `every` ms while the tab is visible; `deps` restart it (new filters, new page). */
export function usePolled<T>(load: () => Promise<T>, deps: unknown[], every = REFRESH_MS) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(false);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const loadRef = useRef(load);
  loadRef.current = load;
  const refresh = useCallback(async () => {
    try {
      setData(await loadRef.current());
      setError(null);
      setUpdatedAt(new Date());
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) setForbidden(true);
      setError(describeError(err));
    }
  }, []);
  useEffect(() => {
    setData(null);
    void refresh();
    if (!every) return;
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') void refresh();
    }, every);
    return () => clearInterval(t);
  }, deps);
  return { data, error, forbidden, updatedAt, refresh };
}

/** Reads the hash route: #/pedidos/ORD-001001 -> ['pedidos', 'ORD-001001']. */
export function useHashRoute(): string[] {
  const read = () => window.location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
