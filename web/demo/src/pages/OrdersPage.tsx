import { useEffect, useState } from 'react';
import type { Order } from '../../../src/index.ts';
import type { StoreApi } from '../store-api.ts';
import { type AlertMessage, describeError } from '../messages.ts';
import { OrderView } from './OrderView.tsx';

export function OrdersPage({ api }: { api: StoreApi }) {
  const [orders, setOrders] = useState<Order[] | null>(null);
  const [error, setError] = useState<AlertMessage | null>(null);
  const { sf } = api;
  const load = () => {
    setError(null);
    sf.orders().then(setOrders, (err: unknown) => setError(describeError(err)));
  };
  useEffect(load, [sf]);

  return (
    <section>
      <h1 className='page-title'>Mis pedidos</h1>
      {error && (
        <div className={`alert ${error.kind}`} role='alert' data-testid={error.kind === 'network' ? 'network-error' : 'orders-error'}>
          <strong>{error.title}</strong>
          <button type='button' className='link' onClick={load}>
            Reintentar
          </button>
        </div>
      )}
      {!orders && !error && <p className='muted'>Cargando tus pedidos…</p>}
      {orders?.length === 0 && <p data-testid='orders-empty'>Todavía no hiciste ninguna compra.</p>}
      <div className='orders' data-testid='orders'>
        {orders?.map((o) => <OrderView key={o.id} order={o} />)}
      </div>
    </section>
  );
}
