/** Offline payments (cash tickets, ATM, transfers, Pix): units they hold per product, the payments awaiting, how many ended unpaid. */
import type { AdminApi } from '../api.ts';
import { dateTime, integer, money } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Kpi, Updated } from './common.tsx';

const METHOD: Record<string, string> = { ticket: 'Efectivo', atm: 'Cajero', bank_transfer: 'Transferencia / Pix' };
const REFUSAL: Record<string, string> = {
  card_only: 'producto solo con tarjeta',
  shopper_limit: 'límite por cliente',
  variant_share: 'límite de stock para pagos pendientes',
  session_closed: 'la compra ya no estaba vigente',
};

export function OfflinePaymentsPage({ api }: { api: AdminApi }) {
  const { data, error, updatedAt } = usePolled(() => api.offlinePayments(), [api]);
  return (
    <>
      <div className='page-head'>
        <h1>Pagos pendientes</h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {data && (
        <>
          <div className='kpis'>
            <Kpi label='Esperando pago' value={integer(data.awaiting.length)} testId='offline-awaiting' />
            <Kpi label='Unidades reservadas' value={integer(data.held_by_product.reduce((n, p) => n + p.units, 0))} testId='offline-units' />
            <Kpi
              label='Vencidos sin pagar'
              value={integer(data.expired_unpaid.total)}
              testId='offline-expired'
              hint={`${integer(data.expired_unpaid.last_7_days)} en 7 días · ${integer(data.expired_unpaid.cancel_pending)} por anular`}
            />
            <Kpi label='Pagados' value={integer(data.paid)} testId='offline-paid' />
          </div>
          <section className='card'>
            <h2>Unidades reservadas por pagos pendientes</h2>
            {data.held_by_product.length === 0 ? <Empty>Ningún pago pendiente reserva stock.</Empty> : (
              <table data-testid='offline-held'>
                <thead>
                  <tr>
                    <th>Producto</th>
                    <th className='num'>Unidades</th>
                    <th className='num'>Pagos</th>
                  </tr>
                </thead>
                <tbody>
                  {data.held_by_product.map((p) => (
                    <tr key={p.product_id}>
                      <td>{p.title}</td>
                      <td className='num'>{integer(p.units)}</td>
                      <td className='num'>{integer(p.payments)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className='card'>
            <h2>Esperando pago</h2>
            {data.awaiting.length === 0 ? <Empty>No hay pagos esperando.</Empty> : (
              <table data-testid='offline-list'>
                <thead>
                  <tr>
                    <th>Pago</th>
                    <th>Medio</th>
                    <th>Cliente</th>
                    <th className='num'>Total</th>
                    <th>Vence</th>
                    <th>Reserva hasta</th>
                  </tr>
                </thead>
                <tbody>
                  {data.awaiting.map((a) => (
                    <tr key={a.payment_id}>
                      <td>
                        {a.payment_id}
                        <br />
                        <span className='small muted'>{a.label}</span>
                      </td>
                      <td>
                        {METHOD[a.payment_type_id] ?? a.payment_type_id} · {a.payment_method_id ?? '—'}
                      </td>
                      <td>{a.email ?? '—'}</td>
                      <td className='num'>{money(a.total, a.currency)}</td>
                      <td>{dateTime(a.deadline)}</td>
                      <td>
                        {a.status === 'refused' ? <span className='bad'>sin reserva: {REFUSAL[a.refusal ?? ''] ?? a.refusal}</span> : dateTime(a.hold_until)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </>
  );
}
