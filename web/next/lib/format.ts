/** es-AR formatting, on the server (the pages are rendered there). */
export function money(amount: number | string, currency: string | null | undefined): string {
  return new Intl.NumberFormat('es-AR', { style: 'currency', currency: currency ?? 'ARS' }).format(Number(amount));
}

export function dateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat('es-AR', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'America/Argentina/Buenos_Aires' }).format(d);
}

/** A payment's deadline, in full ("martes, 9 de diciembre de 2026, 18:30"), in the store's time zone. */
export function deadline(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat('es-AR', { dateStyle: 'full', timeStyle: 'short', hourCycle: 'h23', timeZone: 'America/Argentina/Buenos_Aires' })
    .format(d);
}

export function availability(available: number): string {
  if (available <= 0) return 'Sin stock';
  return available === 1 ? 'Queda 1 unidad' : `${available} disponibles`;
}

export function variantLabel(title: string, attributes: Record<string, unknown>): string {
  const attrs = Object.values(attributes).filter((v) => v !== null && v !== '').map(String);
  return attrs.length ? attrs.join(' · ') : title;
}
