/** Orders, newest first: search by email, order number or payment id; pages by cursor. */
import { type FormEvent, useState } from 'react';
import type { AdminApi } from '../api.ts';
import { dateTime, money, orderStatus } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Updated } from './common.tsx';
import { t } from '../i18n/index.ts';

export function OrdersPage({ api }: { api: AdminApi }) {
  const [draft, setDraft] = useState('');
  const [q, setQ] = useState('');
  // The cursors of the pages seen, to go back.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const { data, error, updatedAt } = usePolled(() => api.orders(q, cursor), [api, q, cursor]);

  const search = (e: FormEvent) => {
    e.preventDefault();
    setQ(draft.trim());
    setCursors([null]);
  };
  return (
    <>
      <div className='page-head'>
        <h1>{t('nav_orders')}</h1>
        <Updated at={updatedAt} error={error} />
      </div>
      <form className='row' onSubmit={search} role='search'>
        <input
          type='search'
          placeholder={t('searchPlaceholder')}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          aria-label={t('searchOrders')}
          data-testid='order-search'
        />
        <button type='submit'>{t('search')}</button>
      </form>
      {data && (data.orders.length === 0 ? <Empty>{q ? t('noOrdersFound') : t('noOrders')}</Empty> : (
        <div className='table-wrap'>
          <table data-testid='orders'>
            <thead>
              <tr>
                <th>{t('col_order')}</th>
                <th>{t('col_date')}</th>
                <th>{t('col_customer')}</th>
                <th className='num'>{t('col_units')}</th>
                <th className='num'>{t('col_total')}</th>
                <th>{t('col_status')}</th>
                <th>{t('col_mpPayment')}</th>
              </tr>
            </thead>
            <tbody>
              {data.orders.map((o) => (
                <tr key={o.id}>
                  <td>
                    <a href={`#/pedidos/${o.order_number}`}>{o.order_number}</a>
                    {o.paid_late && <span className='tag warn'>{t('paidLate')}</span>}
                    {o.do_not_ship && <span className='tag bad'>{t('doNotShip')}</span>}
                  </td>
                  <td>{dateTime(o.created_at)}</td>
                  <td>
                    {o.name}
                    <br />
                    <span className='small muted'>{o.email}</span>
                  </td>
                  <td className='num'>{o.items}</td>
                  <td className='num'>{money(o.total, o.currency)}</td>
                  <td>
                    <span className={`tag ${o.status}`}>{orderStatus(o.status)}</span>
                  </td>
                  <td className='mono'>{o.payment_id}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
      <div className='row pager'>
        <button type='button' disabled={cursors.length < 2} onClick={() => setCursors((c) => c.slice(0, -1))}>{t('newer')}</button>
        <span className='small muted'>{t('page', { n: cursors.length })}</span>
        <button
          type='button'
          disabled={!data?.next_cursor}
          onClick={() => data?.next_cursor && setCursors((c) => [...c, data.next_cursor])}
          data-testid='next-page'
        >
          {t('older')}
        </button>
      </div>
    </>
  );
}
