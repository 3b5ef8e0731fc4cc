import { randomUUID } from 'node:crypto';

/**
 * MercadoPago writes dates with milliseconds and the seller's UTC offset
 * (`2024-05-01T10:20:30.123-04:00`). The sandbox uses a fixed -04:00, so
 * consumers that compare dates as strings instead of parsing them get caught.
 */
export function mpDate(ms: number): string {
  const shifted = new Date(ms - 4 * 60 * 60 * 1000);
  return shifted.toISOString().replace('Z', '-04:00');
}

export const mpDateOrNull = (ms: number | null): string | null => (ms === null ? null : mpDate(ms));

/** Money is rounded to cents after every sum: floats never leak 0.30000000000000004. */
export const round2 = (n: number): number => Math.round(n * 100) / 100;

export const uuid = (): string => randomUUID();

/** MercadoPago stores payment metadata with snake_case keys (`orderId` -> `order_id`). */
export function snakeCaseKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => snakeCaseKeys(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const snake = key
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
        .toLowerCase();
      out[snake] = snakeCaseKeys(v);
    }
    return out as T;
  }
  return value;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
