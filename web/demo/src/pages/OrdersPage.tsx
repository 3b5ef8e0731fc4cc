import { useEffect, useState } from 'react';
import type { Order } from '../../../src/index.ts';
import type { StoreApi } from '../store-api.ts';
import { type AlertMessage, describeError } from '../messages.ts';
import { OrderView } from './OrderView.tsx';
import { t } from '../i18n.ts';

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
      <h1 className='page-title'>{t('myOrders')}</h1>
      {error && (
        <div className={`alert ${error.kind}`} role='alert' data-testid={error.kind === 'network' ? 'network-error' : 'orders-error'}>
          <strong>{error.title}</strong>
          <button type='button' className='link' onClick={load}>
            {t('retry')}
          </button>
        </div>
      )}
      {!orders && !error && <p className='muted'>{t('loadingOrders')}</p>}
      {orders?.length === 0 && <p data-testid='orders-empty'>{t('noOrdersYet')}</p>}
      <div className='orders' data-testid='orders'>
        {orders?.map((o) => <OrderView key={o.id} order={o} />)}
      </div>
    </section>
  );
}
